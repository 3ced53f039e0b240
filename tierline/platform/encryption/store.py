"""Where the field codec meets the database: stored data keys, the codec cache, and the registry
of encrypted columns that key rotation walks (DESIGN.md §5).

Data keys live wrapped in the tenant's own ``data_keys`` table (so they stay in-region and go
with the tenant's schema). Exactly one version is ``active`` (a partial unique index enforces
it); ``retired`` versions stay so that values sealed under them still decrypt.

**Codec cache.** ``load_codec`` reads the tenant's key rows on every call, one indexed query on a
table of a handful of tiny rows, and builds a codec only when that set changed. The cache key is
everything the codec is made from (tenant id, KMS key id, active version and every version with
its wrapped key), so a rotation made by another process is picked up by the very next unit of
work, with no TTL window in which new values would still be sealed under a retired key, and a
cached codec can never disagree with the table. Unwrapping (one KMS call per version, which for
a cloud KMS is a network round trip) and building the AES-GCM objects happen once per key set.

**Registry.** ``register_encrypted_column`` records a ciphertext column together with the SQL
that spells its row key, and the table and column names bound into the associated data. Every
encrypted column must be registered, or a rotation would leave its values under a retired key.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.databases import Databases
from tierline.platform.db import TenantBase, utcnow
from tierline.platform.settings import Settings, SettingsError
from tierline.platform.tenancy import TenantRef, tenant_connection

from .codec import FieldCodec
from .errors import EncryptionError
from .keyring import TenantKeyring, new_wrapped_key
from .kms import Kms, LocalKms, load_master_key

ACTIVE, RETIRED = "active", "retired"
# Tenants whose codecs one process keeps; beyond that the least recently used is rebuilt.
CODEC_CACHE_SIZE = 1024

Connectable = AsyncConnection | AsyncSession


class KeyStoreError(EncryptionError):
    """The tenant's stored keys are in a state the codec cannot use (e.g. none is active)."""


class WrappedDataKey(TenantBase):
    """One stored version of the tenant's data key, wrapped by the KMS (table ``data_keys``).

    Named apart from ``keyring.DataKey``, the unwrapped key held only in memory.
    """

    __tablename__ = "data_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class KeyRow(NamedTuple):
    version: int
    wrapped_key: bytes
    status: str


# ---------------------------------------------------------------------------------------------
# KMS


@lru_cache(maxsize=8)
def _local_kms(master_key: str | None, data_dir: Path) -> LocalKms:
    try:
        return LocalKms(load_master_key(master_key, data_dir))
    except ValueError as exc:
        # A bad master key is a configuration problem; say so the way settings errors do.
        raise SettingsError(str(exc)) from None


def kms_from_settings(settings: Settings) -> LocalKms:
    """The process's KMS for ``settings`` (built once: reading the key file is not free)."""
    return _local_kms(settings.master_key, settings.data_dir)


def default_kms() -> LocalKms:
    """The KMS of the open runtime, or of the process settings when no runtime is open."""
    from tierline.platform.runtime import current_runtime
    from tierline.platform.settings import get_settings

    try:
        settings = current_runtime().settings
    except RuntimeError:
        settings = get_settings()
    return kms_from_settings(settings)


# ---------------------------------------------------------------------------------------------
# Stored keys


TenantKey = TenantRef | uuid.UUID | str


def _tenant_id(tenant: TenantKey) -> str:
    """The tenant id bound into key contexts and associated data (``str(tenant.id)``)."""
    return str(tenant.id if isinstance(tenant, TenantRef) else tenant)


async def create_initial_key(conn: Connectable, tenant: TenantKey, kms: Kms) -> bool:
    """Store data key version 1 as active unless the tenant already has a key.

    Runs in the caller's transaction, so at provisioning the key commits or rolls back with the
    schema. Plain SQL on the unqualified table name because provisioning holds a raw connection
    bound only by ``search_path``, not the ORM's schema map. ``ON CONFLICT DO NOTHING`` (primary
    key or the one-active index) makes concurrent first uses agree on one key: the loser waits
    for the winner's commit and then inserts nothing. Returns whether this call created it.
    """
    created = await conn.execute(
        text(
            "INSERT INTO data_keys (version, wrapped_key, kek_id, status, created_at) "
            "VALUES (1, :wrapped, :kek_id, 'active', :now) ON CONFLICT DO NOTHING"
        ),
        {
            "wrapped": new_wrapped_key(kms, _tenant_id(tenant), 1),
            "kek_id": kms.key_id,
            "now": utcnow(),
        },
    )
    return bool(getattr(created, "rowcount", 0))


async def read_keys(conn: Connectable) -> list[KeyRow]:
    """Every stored key version of the bound tenant, oldest first."""
    rows = await conn.execute(
        select(WrappedDataKey.version, WrappedDataKey.wrapped_key, WrappedDataKey.status).order_by(
            WrappedDataKey.version
        )
    )
    return [KeyRow(r.version, bytes(r.wrapped_key), r.status) for r in rows]


def active_version_of(keys: Sequence[KeyRow]) -> int:
    active = [k.version for k in keys if k.status == ACTIVE]
    if len(active) != 1:
        raise KeyStoreError(f"expected one active data key, found {len(active)}")
    return active[0]


@dataclass(frozen=True)
class KeyStep:
    """Outcome of :func:`activate_next_key`: which version was active before and is now."""

    before: int
    after: int
    created: bool
    versions: tuple[int, ...]


async def activate_next_key(
    session: AsyncSession, tenant: TenantRef, kms: Kms, from_version: int
) -> KeyStep:
    """Make a new key version active and retire ``from_version``, in the caller's transaction.

    Idempotent for a given ``from_version``: when that version is no longer active, a previous
    run already made its successor, and this returns it instead of creating yet another one.
    """
    # Serialises rotations (and lazy first keys) of this tenant; plain reads are not blocked,
    # so requests keep decrypting while the new key is written.
    await session.execute(text("LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE"))
    keys = list((await session.execute(select(WrappedDataKey))).scalars())
    if not keys:  # a tenant from before data keys: its first key is the one rotated from
        await create_initial_key(session, tenant, kms)
        keys = list((await session.execute(select(WrappedDataKey))).scalars())
    by_version = {k.version: k for k in keys}
    active = active_version_of([KeyRow(k.version, k.wrapped_key, k.status) for k in keys])
    if active != from_version:
        if active > from_version:
            return KeyStep(from_version, active, created=False, versions=tuple(sorted(by_version)))
        raise ValueError(f"cannot rotate from key version {from_version}: v{active} is active")
    now, new_version = utcnow(), max(by_version) + 1
    old = by_version[from_version]
    old.status, old.retired_at = RETIRED, now
    # Retire first: the partial unique index allows one active key at any moment.
    await session.flush()
    session.add(
        WrappedDataKey(
            version=new_version,
            wrapped_key=new_wrapped_key(kms, _tenant_id(tenant), new_version),
            kek_id=kms.key_id,
            status=ACTIVE,
            created_at=now,
        )
    )
    await session.flush()
    return KeyStep(
        from_version, new_version, created=True, versions=(*sorted(by_version), new_version)
    )


# ---------------------------------------------------------------------------------------------
# Codec cache

_CacheKey = tuple[str, str, int, tuple[tuple[int, bytes], ...]]
_codecs: OrderedDict[_CacheKey, FieldCodec] = OrderedDict()


def _codec_for(tenant_id: str, kms: Kms, keys: Sequence[KeyRow]) -> FieldCodec:
    active = active_version_of(keys)
    wrapped = tuple((k.version, k.wrapped_key) for k in keys)
    cache_key = (tenant_id, kms.key_id, active, wrapped)
    codec = _codecs.get(cache_key)
    if codec is not None:
        _codecs.move_to_end(cache_key)
        return codec
    codec = FieldCodec(TenantKeyring.unwrap(tenant_id, dict(wrapped), active, kms))
    # Drop this tenant's superseded key sets at once (no old key material lingers after a
    # rotation), then bound the cache as a whole.
    for stale in [k for k in _codecs if k[0] == tenant_id]:
        del _codecs[stale]
    _codecs[cache_key] = codec
    while len(_codecs) > CODEC_CACHE_SIZE:
        _codecs.popitem(last=False)
    return codec


def forget_tenant(tenant_id: uuid.UUID | str) -> None:
    """Drop a tenant's cached codecs (its keys were destroyed)."""
    for stale in [k for k in _codecs if k[0] == str(tenant_id)]:
        del _codecs[stale]


async def codec_in(conn: Connectable, tenant: TenantRef, kms: Kms) -> FieldCodec:
    """The tenant's codec, read inside the caller's unit of work (``tenant_session`` or
    ``tenant_connection``); creates the first key of a tenant provisioned before keys existed."""
    keys = await read_keys(conn)
    if not keys:
        await create_initial_key(conn, tenant, kms)
        keys = await read_keys(conn)
    return _codec_for(_tenant_id(tenant), kms, keys)


async def load_codec(tenant: TenantRef, kms: Kms, databases: Databases | None = None) -> FieldCodec:
    """The tenant's codec (all key versions, sealing under the active one), in its own short
    transaction. Costs one small query when the keys are unchanged (see the module docstring)."""
    async with tenant_connection(tenant, databases) as conn:
        return await codec_in(conn, tenant, kms)


# ---------------------------------------------------------------------------------------------
# Registry of encrypted columns

RowKeySpec = str | Sequence[str] | ColumnElement[Any]


@dataclass(frozen=True, eq=False)
class EncryptedColumn:
    """One ciphertext column: where it is, how its row key is spelled, what its cells bind."""

    table: Table
    column: str
    row_key: ColumnElement[Any]
    ad_table: str
    ad_column: str
    # Values per rotation transaction: large values (a whole document) go a few at a time.
    batch_rows: int | None = None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"

    def cell(self, row_key: str) -> dict[str, str]:
        """Keyword arguments for ``FieldCodec.encrypt``/``decrypt`` of one row's value."""
        return {"table": self.ad_table, "column": self.ad_column, "row_key": row_key}

    def cells(self, row_keys: Sequence[str]) -> dict[str, Any]:
        """Keyword arguments for the codec's batch methods."""
        return {"table": self.ad_table, "column": self.ad_column, "row_keys": row_keys}


ENCRYPTED_COLUMNS: list[EncryptedColumn] = []


def _as_table(table: type[Any] | Table) -> Table:
    found = table if isinstance(table, Table) else getattr(table, "__table__", None)
    if not isinstance(found, Table):
        raise TypeError(f"{table!r} is neither a Table nor a mapped class")
    return found


def _row_key_expr(table: Table, row_key: RowKeySpec | None) -> ColumnElement[Any]:
    """The row key as text, the way application code spells it (``str(value)``; several key
    columns joined with ``/``)."""
    if isinstance(row_key, ColumnElement):
        return row_key
    names = (
        [c.name for c in table.primary_key.columns]
        if row_key is None
        else [row_key]
        if isinstance(row_key, str)
        else list(row_key)
    )
    parts = [cast(table.c[name], Text) for name in names]
    return parts[0] if len(parts) == 1 else func.concat_ws("/", *parts)


def register_encrypted_column(
    table: type[Any] | Table,
    column: str,
    row_key: RowKeySpec | None = None,
    *,
    ad_table: str | None = None,
    ad_column: str | None = None,
    batch_rows: int | None = None,
) -> EncryptedColumn:
    """Register a ciphertext column so key rotation re-encrypts it.

    ``row_key`` is a column name, several names (joined with ``/``) or any SQL expression; by
    default the primary key. ``ad_table``/``ad_column`` are the names the values were sealed
    with (default: the real names). ``batch_rows`` bounds how many values key rotation rewrites
    per transaction (for columns holding whole documents of megabytes). Registering the same
    column again with the same names is a no-op, so a re-imported module does no harm.
    """
    resolved = _as_table(table)
    if column not in resolved.c:
        raise ValueError(f"table {resolved.name} has no column {column!r}")
    if not resolved.primary_key.columns:
        raise ValueError(f"table {resolved.name} needs a primary key to be walked in batches")
    entry = EncryptedColumn(
        resolved,
        column,
        _row_key_expr(resolved, row_key),
        ad_table or resolved.name,
        ad_column or column,
        batch_rows,
    )
    for known in ENCRYPTED_COLUMNS:
        if known.table.key == resolved.key and known.column == column:
            if (known.ad_table, known.ad_column) != (entry.ad_table, entry.ad_column):
                raise ValueError(f"{entry.name} is already registered with other cell names")
            return known
    ENCRYPTED_COLUMNS.append(entry)
    return entry


def encrypted_columns() -> Mapping[str, EncryptedColumn]:
    """The registered columns by ``table.column``."""
    return {c.name: c for c in ENCRYPTED_COLUMNS}


def _register_platform_columns() -> EncryptedColumn:
    from tierline.platform.identity.models import OidcProvider

    # Row key: the provider id (the primary key), as ``identity.oidc`` seals it.
    return register_encrypted_column(OidcProvider, "client_secret_enc")


# The OIDC client secret: seal and open it with ``codec.encrypt(secret, **OIDC_CLIENT_SECRET
# .cell(str(provider.id)))`` so rotation and readers agree on the cell.
OIDC_CLIENT_SECRET = _register_platform_columns()
