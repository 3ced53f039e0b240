"""Key-encryption keys: the small KMS interface, the local implementation and the master key.

Data keys are never stored in clear; a KMS wraps them. ``LocalKms`` does so with a 32-byte master
key (``TIERLINE_MASTER_KEY`` or ``<data dir>/master.key``); a cloud KMS can replace it by
implementing :class:`Kms`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import KeyUnwrapError

KEY_SIZE = 32
MASTER_KEY_FILE = "master.key"
_SETTING = "TIERLINE_MASTER_KEY"
_WRAP_FORMAT = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
_GENERATE_HINT = (
    "generate one with: python -c "
    "'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
)


class Kms(Protocol):
    """Wraps and unwraps data keys; ``context`` is authenticated, so a wrapped key only unwraps
    for the tenant and version it was wrapped for."""

    @property
    def key_id(self) -> str:
        """Names the key-encryption key, to record next to what it wrapped."""
        ...

    def wrap(self, plaintext_key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class LocalKms:
    """A KMS backed by a 32-byte master key held in process memory.

    Wrapped format: 1 format byte, 12-byte random nonce, AES-256-GCM ciphertext and tag, with the
    context as associated data.
    """

    __slots__ = ("_aead", "_key_id")

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_SIZE:
            raise ValueError(f"a key-encryption key must be {KEY_SIZE} bytes, got {len(kek)}")
        self._aead = AESGCM(kek)
        # A short fingerprint lets operators see which master key wrapped a data key; the domain
        # label keeps it unrelated to any other hash of the key.
        self._key_id = "local:" + hashlib.sha256(b"tierline.kek-id\x00" + kek).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LocalKms(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, plaintext_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, plaintext_key, context)
        return bytes((_WRAP_FORMAT,)) + nonce + sealed

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) < 1 + _NONCE_SIZE + _TAG_SIZE or wrapped[0] != _WRAP_FORMAT:
            raise KeyUnwrapError("wrapped data key is malformed or in an unknown format")
        nonce, sealed = wrapped[1 : 1 + _NONCE_SIZE], wrapped[1 + _NONCE_SIZE :]
        try:
            return self._aead.decrypt(nonce, sealed, context)
        except InvalidTag:
            raise KeyUnwrapError(
                f"cannot unwrap data key with master key {self._key_id}: the master key is "
                "not the one it was wrapped with, or the key belongs to another tenant or version"
            ) from None


def load_master_key(master_key: str | None, data_dir: Path) -> bytes:
    """The 32-byte master key from the ``TIERLINE_MASTER_KEY`` setting, else from the key file.

    Without the setting, ``data_dir/master.key`` is read, or created (mode 0600) on first start.
    Raises ``ValueError`` with a message saying what to fix; the key itself is never echoed.
    """
    if master_key is not None:
        return _decode_key(master_key, source=_SETTING)
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _decode_key(text: str, *, source: str) -> bytes:
    """Standard or URL-safe base64, padding optional, of exactly 32 bytes."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError(f"{source} is empty; {_GENERATE_HINT}")
    # Map the URL-safe alphabet onto the standard one so both are accepted, and restore padding
    # that tools such as secrets.token_urlsafe() leave off.
    standard = cleaned.translate(str.maketrans("-_", "+/"))
    standard += "=" * (-len(standard) % 4)
    try:
        key = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{source} is not valid base64; {_GENERATE_HINT}") from None
    if len(key) != KEY_SIZE:
        raise ValueError(
            f"{source} must be base64 of exactly {KEY_SIZE} bytes, it decodes to {len(key)} "
            f"bytes; {_GENERATE_HINT}"
        )
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key, atomically, so that concurrent first starts agree on one key.

    The key goes to a private temporary file created with O_EXCL and mode 0600, then is hard-linked
    into place: the link fails if another process won the race, and readers never see a partly
    written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(KEY_SIZE)) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        # FileExistsError: another process created the key first; use theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    # O_NOFOLLOW and fstat on the open descriptor: the permissions checked are those of the file
    # actually read, not of whatever a symlink or a rename put at the path in between.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"master key file {path} is not a regular file")
        # Any group or other permission is refused, not only read: a writable key file lets
        # someone swap the key.
        if mode & 0o077:
            raise ValueError(
                f"master key file {path} has mode {stat.S_IMODE(mode):04o}; it must be "
                f"accessible by its owner only (chmod 600 {path}), or set {_SETTING}"
            )
        text = handle.read().decode("ascii", errors="replace")
    return _decode_key(text, source=f"master key file {path}")
