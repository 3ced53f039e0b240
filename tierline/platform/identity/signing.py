"""Platform JWT signing keys (ES256) in the control plane, and the JWKS that publishes them.

One key is active and signs new access tokens. Rotating makes a new active key and retires the
old one; a retired key stays published (and accepted) for ``JWKS_RETENTION`` so tokens signed
with it shortly before the rotation verify until they expire, after which ``prune_retired``
may delete it. Private keys are stored as PKCS#8 DER sealed with AES-256-GCM under the master
key, with the kid as associated data so a sealed key cannot be moved to another row.

Each process keeps the keys in a small cache (``KeyCache``) that reloads after 60 seconds, or
when a token names a kid it has not seen (a key rotated in by another process).
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.databases import Databases
from tierline.platform.db import utcnow
from tierline.platform.encryption import load_master_key
from tierline.platform.identity.models import SigningKey
from tierline.platform.settings import Settings

ALG = "ES256"
TOKEN_LIFETIME = timedelta(minutes=15)
CLOCK_LEEWAY = timedelta(seconds=30)
# A process may keep signing with the old key for one cache period after a rotation elsewhere,
# and verifiers allow the leeway: five minutes on top of the token lifetime covers both.
JWKS_RETENTION = TOKEN_LIFETIME + timedelta(minutes=5)
CACHE_SECONDS = 60.0
# Unknown kids come from the outside (any bearer token); refreshing at most this often keeps a
# flood of made-up kids from turning into a flood of control-plane queries.
MIN_REFRESH_SECONDS = 2.0
_NONCE = 12
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtext('tierline.signing_keys'))")


class SigningKeyError(RuntimeError):
    """The active signing key cannot be used (missing, or sealed under another master key)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(kid: str, public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "kid": kid,
        "alg": ALG,
        "use": "sig",
    }


def seal_private_key(master_key: bytes, kid: str, der: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master_key).encrypt(nonce, der, kid.encode())


def open_private_key(master_key: bytes, kid: str, sealed: bytes) -> bytes:
    return AESGCM(master_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], kid.encode())


def _new_key_row(settings: Settings) -> dict[str, Any]:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = secrets.token_urlsafe(16)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    master = load_master_key(settings.master_key, settings.data_dir)
    return {
        "kid": kid,
        "alg": ALG,
        "private_key_enc": seal_private_key(master, kid, der),
        "public_jwk": _public_jwk(kid, private.public_key()),
        "status": "active",
        "created_at": utcnow(),
        "retired_at": None,
    }


async def _active_kid(conn: AsyncConnection) -> str | None:
    found = await conn.execute(select(SigningKey.kid).where(SigningKey.status == "active"))
    return found.scalar_one_or_none()


async def ensure_signing_key(databases: Databases, settings: Settings) -> str:
    """The active key's kid, creating the first key when there is none."""
    async with databases.control.begin() as conn:
        # Serialises concurrent first starts (and rotations), so they agree on one key.
        await conn.execute(_LOCK_SQL)
        kid = await _active_kid(conn)
        if kid is None:
            row = _new_key_row(settings)
            await conn.execute(pg_insert(SigningKey).values(**row))
            kid = str(row["kid"])
    return kid


async def rotate_signing_key(databases: Databases, settings: Settings) -> str:
    """Make a new active key and retire the current one; returns the new kid."""
    row = _new_key_row(settings)
    async with databases.control.begin() as conn:
        await conn.execute(_LOCK_SQL)
        # Retire first: the partial unique index allows one active row at any moment.
        await conn.execute(
            update(SigningKey)
            .where(SigningKey.status == "active")
            .values(status="retired", retired_at=utcnow())
        )
        await conn.execute(pg_insert(SigningKey).values(**row))
    key_cache.invalidate()
    return str(row["kid"])


async def prune_retired(databases: Databases, older_than: timedelta = JWKS_RETENTION) -> int:
    """Delete keys retired more than ``older_than`` ago; returns how many went.

    Refuses a period shorter than a token's lifetime plus leeway: tokens signed just before
    the rotation would stop verifying while still unexpired.
    """
    if older_than < TOKEN_LIFETIME + CLOCK_LEEWAY:
        raise ValueError(
            f"retired keys must stay published for at least {TOKEN_LIFETIME + CLOCK_LEEWAY}"
        )
    async with databases.control.begin() as conn:
        result = await conn.execute(
            delete(SigningKey).where(
                SigningKey.status == "retired", SigningKey.retired_at < utcnow() - older_than
            )
        )
    key_cache.invalidate()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Snapshot:
    """The published keys as loaded at one moment, plus the sealed active private key."""

    source: int
    loaded_at: float
    public: dict[str, dict[str, Any]]
    active_kid: str | None
    active_sealed: bytes | None


async def _load(databases: Databases) -> _Snapshot:
    cutoff = utcnow() - JWKS_RETENTION
    async with databases.control.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    SigningKey.kid,
                    SigningKey.status,
                    SigningKey.public_jwk,
                    SigningKey.private_key_enc,
                )
                .where(
                    SigningKey.alg == ALG,
                    or_(SigningKey.status == "active", SigningKey.retired_at > cutoff),
                )
                .order_by(SigningKey.created_at.desc())
            )
        ).all()
    active = next((r for r in rows if r.status == "active"), None)
    return _Snapshot(
        source=id(databases.control),
        loaded_at=time.monotonic(),
        public={r.kid: dict(r.public_jwk) for r in rows},
        active_kid=active.kid if active else None,
        active_sealed=bytes(active.private_key_enc) if active else None,
    )


@dataclass
class KeyCache:
    """Per-process view of the signing keys: reloads after ``CACHE_SECONDS`` or on a new kid."""

    max_age: float = CACHE_SECONDS
    min_refresh: float = MIN_REFRESH_SECONDS
    _snapshot: _Snapshot | None = None
    _verifiers: dict[str, ECKey] = field(default_factory=dict)
    _signer: tuple[str, ECKey] | None = None

    def invalidate(self) -> None:
        self._snapshot = None

    def _fresh(self, databases: Databases) -> _Snapshot | None:
        snap = self._snapshot
        if snap is None or snap.source != id(databases.control):
            return None
        if time.monotonic() - snap.loaded_at > self.max_age:
            return None
        return snap

    async def _current(self, databases: Databases) -> _Snapshot:
        snap = self._fresh(databases)
        if snap is None:
            snap = await _load(databases)
            self._snapshot = snap
            # Keys dropped from the JWKS (pruned, or past retention) stop verifying here too.
            self._verifiers = {k: v for k, v in self._verifiers.items() if k in snap.public}
        return snap

    async def document(self, databases: Databases) -> dict[str, Any]:
        """The JWKS document: the active key and recently retired ones."""
        snap = await self._current(databases)
        return {"keys": list(snap.public.values())}

    async def verification_key(self, databases: Databases, kid: str) -> ECKey | None:
        """The public key for ``kid``, or None when no published key has that kid."""
        snap = await self._current(databases)
        if kid not in snap.public and time.monotonic() - snap.loaded_at >= self.min_refresh:
            snap = await _load(databases)
            self._snapshot = snap
        jwk = snap.public.get(kid)
        if jwk is None:
            return None
        if kid not in self._verifiers:
            self._verifiers[kid] = ECKey.import_key(jwk)  # type: ignore[arg-type]
        return self._verifiers[kid]

    async def signing_key(self, databases: Databases, settings: Settings) -> tuple[str, ECKey]:
        """The active kid and its private key (created on first use)."""
        snap = await self._current(databases)
        if snap.active_kid is None:
            await ensure_signing_key(databases, settings)
            snap = await _load(databases)
            self._snapshot = snap
        if snap.active_kid is None or snap.active_sealed is None:
            raise SigningKeyError("no active signing key")
        if self._signer is None or self._signer[0] != snap.active_kid:
            self._signer = (snap.active_kid, _private_key(settings, snap))
        return self._signer


def _private_key(settings: Settings, snap: _Snapshot) -> ECKey:
    assert snap.active_kid is not None and snap.active_sealed is not None
    master = load_master_key(settings.master_key, settings.data_dir)
    try:
        der = open_private_key(master, snap.active_kid, snap.active_sealed)
    except Exception as exc:  # InvalidTag: another master key, or a tampered row
        raise SigningKeyError(
            f"cannot decrypt signing key {snap.active_kid}: wrong master key or tampered row"
        ) from exc
    private = serialization.load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"signing key {snap.active_kid} is not an EC key")
    return ECKey.import_key(private, {"kid": snap.active_kid, "alg": ALG})


key_cache = KeyCache()


async def jwks(databases: Databases) -> dict[str, Any]:
    """The public JWKS (active key plus keys retired within ``JWKS_RETENTION``)."""
    return await key_cache.document(databases)
