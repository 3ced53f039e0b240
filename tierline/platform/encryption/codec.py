"""Encrypts and decrypts single field values, bound to the cell they are stored in.

Stored format (format version 1)::

    1 byte   format version (1)
    4 bytes  data-key version, big-endian
    12 bytes random nonce
    n bytes  AES-256-GCM ciphertext of the plaintext encoding, then the 16-byte tag

Associated data is the 5 header bytes followed by the length-prefixed parts
``"tierline.field.v1" / tenant / table / column / row key``: the header is authenticated, and a
value copied to another row, column, table or tenant fails with :class:`IntegrityError`.

The plaintext is a type tag and the value (see ``_plaintext``); ``None`` is stored as ``None``,
not encrypted.

The batch methods are the ones to use for pages and aggregations: the per-(table, column) part of
the associated data and the AES-GCM object per key version are computed once, the per-value loop
does one dict lookup, three slices and the AES-GCM call, and ``decrypt_floats`` parses a column
of floats with one numpy call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._canonical import encode_part
from ._plaintext import (
    FLOAT_PLAINTEXT_SIZE,
    NAN_PLAINTEXT,
    FieldValue,
    decode_floats,
    decode_value,
    encode_floats,
    encode_value,
)
from .errors import (
    INTEGRITY_ERROR,
    IntegrityError,
    IntegrityMarker,
    UnknownKeyVersionError,
)
from .keyring import TenantKeyring

OnError = Literal["raise", "mark"]

FORMAT_VERSION = 1
HEADER_SIZE = 5
NONCE_SIZE = 12
TAG_SIZE = 16
_BODY_START = HEADER_SIZE + NONCE_SIZE
_MIN_BLOB_SIZE = _BODY_START + TAG_SIZE
_AD_DOMAIN = "tierline.field.v1"

_P = TypeVar("_P")


class BlobHeader(NamedTuple):
    format_version: int
    key_version: int


def read_header(blob: bytes) -> BlobHeader:
    """Format and key version of a stored value; ``ValueError`` if it is not one."""
    if len(blob) < _MIN_BLOB_SIZE:
        raise ValueError(f"{len(blob)} bytes is too short to be an encrypted field value")
    if blob[0] != FORMAT_VERSION:
        raise ValueError(f"unknown encrypted field format version {blob[0]}")
    return BlobHeader(blob[0], int.from_bytes(blob[1:HEADER_SIZE], "big"))


def key_version_of(blob: bytes) -> int:
    """The data-key version a stored value was sealed under."""
    return read_header(blob).key_version


def _header(key_version: int) -> bytes:
    return bytes((FORMAT_VERSION,)) + key_version.to_bytes(4, "big")


class _Cell(NamedTuple):
    """Everything for one (table, column) that does not depend on the row."""

    # header bytes -> (AES-GCM for that key version, associated data up to the row key)
    openers: Mapping[bytes, tuple[AESGCM, bytes]]
    seal_header: bytes
    seal_aead: AESGCM
    seal_ad: bytes


SEALED_FLOAT_SIZE = _BODY_START + FLOAT_PLAINTEXT_SIZE + TAG_SIZE
_SEAL_SLICE = 32_768  # values sealed per step of a large batch


class FloatSealing(NamedTuple):
    """The active key and the associated data up to the row key, per column: all it takes
    to seal float values of one table, in this process or another (it pickles)."""

    key: bytes
    header: bytes
    prefixes: Mapping[str, bytes]

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"FloatSealing(columns={sorted(self.prefixes)})"


class RowKeys:
    """Row keys as one UTF-8 buffer and each key's length in bytes: what bulk sealing binds
    values to, without a Python string per row (and cheap to hand to the helper process)."""

    __slots__ = ("data", "lengths")

    def __init__(self, data: bytes, lengths: npt.NDArray[np.int64]) -> None:
        if int(lengths.sum()) != len(data) or (lengths < 0).any():
            raise ValueError("row key lengths do not add up to the buffer")
        self.data, self.lengths = data, lengths

    @classmethod
    def of(cls, keys: Sequence[str]) -> RowKeys:
        raws = [key.encode("utf-8") for key in keys]
        return cls(b"".join(raws), np.fromiter(map(len, raws), dtype=np.int64, count=len(raws)))

    def __len__(self) -> int:
        return len(self.lengths)

    def slice(self, start: int, stop: int) -> RowKeys:
        first = int(self.lengths[:start].sum())
        lengths = self.lengths[start:stop]
        return RowKeys(self.data[first : first + int(lengths.sum())], lengths)

    def __getstate__(self) -> tuple[bytes, npt.NDArray[np.int64]]:
        return self.data, self.lengths

    def __setstate__(self, state: tuple[bytes, npt.NDArray[np.int64]]) -> None:
        self.data, self.lengths = state


def row_associated_data(prefix: bytes, keys: RowKeys) -> list[bytes]:
    """``prefix`` followed by each row key's length-prefixed part (as ``encode_part``), one
    bytes object per row. Laid out by numpy, one matrix per distinct key length (keys mostly
    come in one or a few lengths), rather than two concatenations per value."""
    lengths = keys.lengths
    if not len(lengths):
        return []
    data = np.frombuffer(keys.data, dtype=np.uint8)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    head = np.frombuffer(prefix, dtype=np.uint8)
    distinct = np.unique(lengths)
    if len(distinct) == 1:
        return _associated_data_of_length(head, data, starts, int(distinct[0]))
    found = np.empty(len(lengths), dtype=object)
    for length in distinct.tolist():
        rows = np.flatnonzero(lengths == length)
        found[rows] = _associated_data_of_length(head, data, starts[rows], length)
    return found.tolist()  # type: ignore[no-any-return]


def _associated_data_of_length(
    head: npt.NDArray[np.uint8],
    data: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    length: int,
) -> list[bytes]:
    matrix = np.empty((len(starts), len(head) + 4 + length), dtype=np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) : len(head) + 4] = np.frombuffer(length.to_bytes(4, "big"), np.uint8)
    if length:
        matrix[:, len(head) + 4 :] = data[starts[:, None] + np.arange(length)]
    # A void view turns each row into one bytes object, trailing zero bytes included.
    return matrix.view(f"V{matrix.shape[1]}").ravel().tolist()  # type: ignore[no-any-return]


def seal_floats(
    sealing: FloatSealing,
    columns: Mapping[str, npt.NDArray[np.float64]],
    row_keys: Sequence[str] | RowKeys,
) -> dict[str, bytes]:
    """Every value of each column sealed (one AES-GCM call and one fresh nonce each), the
    sealed values of a column joined: each is ``SEALED_FLOAT_SIZE`` bytes.

    The Python loop is the AES-GCM call alone (``map`` over prepared lists): nonces,
    plaintexts and associated data come as lists from numpy, and the header, nonce and
    ciphertext of each value are laid side by side by numpy afterwards."""
    keys = row_keys if isinstance(row_keys, RowKeys) else RowKeys.of(row_keys)
    encrypt = AESGCM(sealing.key).encrypt
    blocks = {}
    for column, values in columns.items():
        if len(values) != len(keys):
            raise ValueError(f"{column}: values and row keys differ in length")
        blocks[column] = np.empty((len(values), SEALED_FLOAT_SIZE), dtype=np.uint8)
        blocks[column][:, :HEADER_SIZE] = np.frombuffer(sealing.header, dtype=np.uint8)
    # In slices, so that the per-value lists stay small whatever the batch.
    for start in range(0, len(keys), _SEAL_SLICE):
        stop = min(start + _SEAL_SLICE, len(keys))
        part = keys.slice(start, stop)
        for column, values in columns.items():
            raw_nonces = os.urandom(NONCE_SIZE * (stop - start))
            nonces = np.frombuffer(raw_nonces, dtype=f"V{NONCE_SIZE}").tolist()
            ads = row_associated_data(sealing.prefixes[column], part)
            bodies = b"".join(map(encrypt, nonces, encode_floats(values[start:stop]), ads))
            block = blocks[column][start:stop]
            block[:, HEADER_SIZE:_BODY_START] = np.frombuffer(raw_nonces, np.uint8).reshape(
                -1, NONCE_SIZE
            )
            block[:, _BODY_START:] = np.frombuffer(bodies, np.uint8).reshape(
                -1, SEALED_FLOAT_SIZE - _BODY_START
            )
    return {column: block.tobytes() for column, block in blocks.items()}


class _Pending(Protocol):
    def result(self) -> dict[str, bytes]: ...


class SealingFloats:
    """Float columns being sealed (see :meth:`FieldCodec.start_encrypt_floats`)."""

    __slots__ = ("_joined", "_presence")

    def __init__(
        self,
        presence: Mapping[str, npt.NDArray[np.bool_]],
        joined: dict[str, bytes] | _Pending,
    ) -> None:
        self._presence = presence
        self._joined = joined

    def matrices(self) -> dict[str, tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]]:
        """Each column's sealed values as one row of ``SEALED_FLOAT_SIZE`` bytes per value
        (rows where a value is not present hold a sealed 0.0 to ignore), and the presence:
        for bulk writers, without a Python object per value."""
        joined = self._joined if isinstance(self._joined, dict) else self._joined.result()
        return {
            column: (
                np.frombuffer(joined[column], dtype=np.uint8).reshape(-1, SEALED_FLOAT_SIZE),
                present,
            )
            for column, present in self._presence.items()
        }

    def result(self) -> dict[str, list[bytes | None]]:
        """Each column's sealed values, ``None`` where a value is not present."""
        joined = self._joined if isinstance(self._joined, dict) else self._joined.result()
        size = SEALED_FLOAT_SIZE
        sealed: dict[str, list[bytes | None]] = {}
        for column, present in self._presence.items():
            blob = joined[column]
            column_sealed: list[bytes | None] = [
                blob[start : start + size] for start in range(0, len(blob), size)
            ]
            for missing in np.flatnonzero(~present).tolist():
                column_sealed[missing] = None
            sealed[column] = column_sealed
        return sealed


class FieldCodec:
    """Seals and opens field values for one tenant, using that tenant's keyring."""

    __slots__ = ("_cells", "_keyring")

    def __init__(self, keyring: TenantKeyring) -> None:
        self._keyring = keyring
        self._cells: dict[tuple[str, str], _Cell] = {}

    def __repr__(self) -> str:
        return f"FieldCodec({self._keyring!r})"

    @property
    def keyring(self) -> TenantKeyring:
        return self._keyring

    # single values

    def derive_key(self, purpose: bytes) -> bytes:
        """A key for another use (e.g. keyed row hashes), derived from the active data key so
        it is never stored and dies with the tenant's keys."""
        import hashlib
        import hmac

        return hmac.new(self._keyring.active_key.key, purpose, hashlib.sha256).digest()

    def encrypt(
        self, value: FieldValue | None, *, table: str, column: str, row_key: str
    ) -> bytes | None:
        return self.encrypt_many([value], table=table, column=column, row_keys=[row_key])[0]

    def decrypt(
        self, blob: bytes | None, *, table: str, column: str, row_key: str
    ) -> FieldValue | None:
        """The stored value; raises :class:`IntegrityError` if it does not belong to this cell."""
        return self.decrypt_many([blob], table=table, column=column, row_keys=[row_key])[0]

    def reencrypt(
        self, blob: bytes | None, *, table: str, column: str, row_key: str
    ) -> bytes | None:
        return self.reencrypt_many([blob], table=table, column=column, row_keys=[row_key])[0]

    # batches

    def encrypt_many(
        self,
        values: Sequence[FieldValue | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
    ) -> list[bytes | None]:
        plains = [None if value is None else encode_value(value) for value in values]
        return self._seal_many(plains, self._cell(table, column), row_keys)

    def encrypt_floats(
        self,
        columns: Mapping[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]],
        *,
        table: str,
        row_keys: Sequence[str] | RowKeys,
        in_helper_process: bool = False,
    ) -> dict[str, list[bytes | None]]:
        """Several float columns of the same rows (``column: (values, present)``), sealed
        exactly like :meth:`encrypt_many` would (``None`` where not present), for bulk loads:
        plaintexts laid out by numpy and each row key's associated-data part encoded once
        for all columns. ``in_helper_process`` runs the AES-GCM calls in a helper process
        (see ``sealer``), where they do not hold this process's interpreter lock."""
        return self.start_encrypt_floats(
            columns, table=table, row_keys=row_keys, in_helper_process=in_helper_process
        ).result()

    def start_encrypt_floats(
        self,
        columns: Mapping[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]],
        *,
        table: str,
        row_keys: Sequence[str] | RowKeys,
        in_helper_process: bool = False,
    ) -> SealingFloats:
        """:meth:`encrypt_floats`, started now and collected with ``.result()``: in the helper
        process the sealing goes on meanwhile (in this process it is done right away)."""
        for column, (values, present) in columns.items():
            if not len(values) == len(present) == len(row_keys):
                raise ValueError(f"{column}: values, presence and row keys differ in length")
        sealing = self.float_sealing(table, list(columns))
        floats = {column: values for column, (values, _) in columns.items()}
        presence = {column: present for column, (_, present) in columns.items()}
        if in_helper_process:
            from .sealer import submit_seal_floats

            return SealingFloats(presence, submit_seal_floats(sealing, floats, row_keys))
        return SealingFloats(presence, seal_floats(sealing, floats, row_keys))

    def float_sealing(self, table: str, columns: Sequence[str]) -> FloatSealing:
        """What :func:`seal_floats` needs to seal these columns under the active key."""
        cells = {column: self._cell(table, column) for column in columns}
        return FloatSealing(
            self._keyring.active_key.key,
            _header(self._keyring.active_version),
            {column: cell.seal_ad for column, cell in cells.items()},
        )

    @overload
    def decrypt_many(
        self,
        blobs: Sequence[bytes | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
        on_error: Literal["raise"] = "raise",
    ) -> list[FieldValue | None]: ...

    @overload
    def decrypt_many(
        self,
        blobs: Sequence[bytes | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
        on_error: OnError,
    ) -> list[FieldValue | IntegrityMarker | None]: ...

    def decrypt_many(
        self,
        blobs: Sequence[bytes | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
        on_error: OnError = "raise",
    ) -> list[FieldValue | None] | list[FieldValue | IntegrityMarker | None]:
        """Values in order; with ``on_error="mark"`` a bad cell becomes ``INTEGRITY_ERROR``."""
        bad = _bad_value(on_error, INTEGRITY_ERROR)
        plains = self._open_many(blobs, table, column, row_keys, None, bad)
        return [decode_value(p) if isinstance(p, bytes) else p for p in plains]

    def decrypt_floats(
        self,
        blobs: Sequence[bytes | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
        on_error: OnError = "raise",
    ) -> npt.NDArray[np.float64]:
        """Numeric values as float64 for vectorised maths; NaN for ``None`` (and for a bad cell
        with ``on_error="mark"``). Decimal and int values are converted to the nearest float."""
        bad = _bad_value(on_error, NAN_PLAINTEXT)
        return decode_floats(self._open_many(blobs, table, column, row_keys, NAN_PLAINTEXT, bad))

    def reencrypt_many(
        self,
        blobs: Sequence[bytes | None],
        *,
        table: str,
        column: str,
        row_keys: Sequence[str],
    ) -> list[bytes | None]:
        """Each value sealed under the active key version, for the key-rotation job.

        Values already under the active version are returned as the same object (compare with
        ``is`` to write back only changed rows), so running the job twice is harmless. Raises
        :class:`IntegrityError` on a bad value rather than rewriting it.
        """
        _check_lengths(blobs, row_keys)
        cell = self._cell(table, column)
        stale = [
            i
            for i, blob in enumerate(blobs)
            if blob is not None and blob[:HEADER_SIZE] != cell.seal_header
        ]
        stale_keys = [row_keys[i] for i in stale]
        plains = self._open_many([blobs[i] for i in stale], table, column, stale_keys, None, _RAISE)
        result = list(blobs)
        for i, sealed in zip(stale, self._seal_many(plains, cell, stale_keys), strict=True):
            result[i] = sealed
        return result

    # internals

    def _cell(self, table: str, column: str) -> _Cell:
        cell = self._cells.get((table, column))
        if cell is None:
            cell = self._cells[(table, column)] = self._build_cell(table, column)
        return cell

    def _build_cell(self, table: str, column: str) -> _Cell:
        parts = b"".join(
            encode_part(part) for part in (_AD_DOMAIN, self._keyring.tenant_id, table, column)
        )
        openers = {
            _header(version): (aead, _header(version) + parts)
            for version, aead in self._keyring.aeads().items()
        }
        active = _header(self._keyring.active_version)
        seal_aead, seal_ad = openers[active]
        return _Cell(openers, active, seal_aead, seal_ad)

    def _seal_many(
        self, plains: Sequence[bytes | None], cell: _Cell, row_keys: Sequence[str]
    ) -> list[bytes | None]:
        _check_lengths(plains, row_keys)
        header, encrypt, ad_prefix = cell.seal_header, cell.seal_aead.encrypt, cell.seal_ad
        # One urandom call for the whole batch instead of a syscall per value; each value still
        # gets its own 12 fresh random bytes.
        nonces = os.urandom(NONCE_SIZE * len(plains))
        sealed: list[bytes | None] = []
        append = sealed.append
        for i, (plain, row_key) in enumerate(zip(plains, row_keys, strict=True)):
            if plain is None:
                append(None)
                continue
            nonce = nonces[i * NONCE_SIZE : (i + 1) * NONCE_SIZE]
            raw_key = row_key.encode("utf-8")  # the length-prefixed row-key part, inlined
            ad = ad_prefix + len(raw_key).to_bytes(4, "big") + raw_key
            append(header + nonce + encrypt(nonce, plain, ad))
        return sealed

    def _open_many(
        self,
        blobs: Sequence[bytes | None],
        table: str,
        column: str,
        row_keys: Sequence[str],
        none: _P,
        bad: _P | _Raise,
    ) -> list[bytes | _P]:
        """The one hot loop: authenticate and decrypt each blob to its plaintext bytes.

        ``none`` stands in for a NULL value, ``bad`` for a value that fails to authenticate
        (``_RAISE`` to raise instead). Decoding is left to the caller, so floats can be parsed
        in bulk rather than through a Python call per value.
        """
        _check_lengths(blobs, row_keys)
        openers = self._cell(table, column).openers
        header_end, body_start = HEADER_SIZE, _BODY_START  # locals: faster than globals in a loop
        out: list[bytes | _P] = []
        append = out.append
        for blob, row_key in zip(blobs, row_keys, strict=True):
            if blob is None:
                append(none)
                continue
            try:
                aead, ad_prefix = openers[blob[:header_end]]
                raw_key = row_key.encode("utf-8")  # the length-prefixed row-key part, inlined
                plain = aead.decrypt(
                    blob[header_end:body_start],
                    blob[body_start:],
                    ad_prefix + len(raw_key).to_bytes(4, "big") + raw_key,
                )
            except (KeyError, InvalidTag, ValueError) as exc:
                error = self._integrity_error(blob, exc, table, column, row_key)
                if isinstance(bad, _Raise):
                    raise error from None
                append(bad)
                continue
            append(plain)
        return out

    def _integrity_error(
        self, blob: bytes, exc: Exception, table: str, column: str, row_key: str
    ) -> IntegrityError:
        """Explain why ``blob`` did not open; re-raises ``exc`` if the blob is not the cause."""
        where = {"table": table, "column": column, "row_key": row_key}
        if len(blob) < _MIN_BLOB_SIZE:
            return IntegrityError(**where, reason=f"value is truncated ({len(blob)} bytes)")
        if isinstance(exc, ValueError):
            raise exc  # not from the blob (e.g. a row key that is not valid text)
        if blob[0] != FORMAT_VERSION:
            return IntegrityError(**where, reason=f"unknown format version {blob[0]}")
        version = key_version_of(blob)
        if version not in self._keyring.aeads():
            held = ", ".join(map(str, self._keyring.versions))
            return UnknownKeyVersionError(
                **where, reason=f"sealed under data key version {version}; keyring holds {held}"
            )
        return IntegrityError(
            **where, reason="value was altered or copied from another row, column, table or tenant"
        )


class _Raise:
    """Type of the sentinel telling :meth:`FieldCodec._open_many` to raise on a bad value."""


_RAISE = _Raise()


def _bad_value(on_error: OnError, marker: _P) -> _P | _Raise:
    if on_error == "mark":
        return marker
    if on_error == "raise":
        return _RAISE
    raise ValueError(f"on_error must be 'raise' or 'mark', not {on_error!r}")


def _check_lengths(values: Sequence[object], row_keys: Sequence[str]) -> None:
    if len(values) != len(row_keys):
        raise ValueError(f"{len(values)} values but {len(row_keys)} row keys")
