"""A run's archived feature snapshot: Parquet (zstd), sealed under the tenant's data key.

The features a run classified hold revenue, margin and margin % per entity, which a database
backup must not reveal without the master key. The whole Parquet document is one AES-256-GCM
value (``FieldCodec`` with the ``bytes`` plaintext type) whose associated data names the table,
the column and the run id, so a snapshot copied onto another run fails to open. Key rotation
rewrites it like every other registered column (``models.SNAPSHOT_FEATURES``).

Releases before sealing stored the Parquet in clear. Such a snapshot starts with Parquet's
magic bytes (a sealed one starts with the format version byte), still opens, and is sealed by
:func:`seal_plaintext_snapshots`, a data step ``tierline migrate`` runs for every tenant.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import LargeBinary, bindparam, func, select, update

from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.encryption.store import codec_in, kms_from_settings
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection
from tierline.segmentation.models import SNAPSHOT_FEATURES

PARQUET_MAGIC = b"PAR1"
SEAL_BATCH = 8  # snapshots per transaction when sealing old ones (each may be megabytes)


class SnapshotUnreadable(ValueError):
    """The snapshot does not open with this tenant's keys (tampered, or not this run's)."""


def is_clear(blob: bytes) -> bool:
    """Whether ``blob`` is a snapshot an older release stored unsealed."""
    return blob[:4] == PARQUET_MAGIC


def _parquet(features: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    features.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def seal_snapshot(codec: FieldCodec, run_id: uuid.UUID, features: pl.DataFrame) -> bytes:
    """The features as sealed Parquet, bound to ``run_id`` (CPU work: call it in a thread)."""
    sealed = codec.encrypt(_parquet(features), **SNAPSHOT_FEATURES.cell(str(run_id)))
    assert sealed is not None  # only None is stored as None
    return sealed


def open_snapshot(codec: FieldCodec, run_id: uuid.UUID, blob: bytes) -> pl.DataFrame:
    """The features of a stored snapshot, sealed or (from an older release) in clear."""
    if is_clear(blob):
        return pl.read_parquet(io.BytesIO(blob))
    from tierline.platform.encryption.errors import IntegrityError

    try:
        plain = codec.decrypt(blob, **SNAPSHOT_FEATURES.cell(str(run_id)))
    except IntegrityError as exc:
        raise SnapshotUnreadable(f"run {run_id}: the archived snapshot does not open") from exc
    if not isinstance(plain, bytes):
        raise SnapshotUnreadable(f"run {run_id}: the archived snapshot is not a document")
    return pl.read_parquet(io.BytesIO(plain))


def _seal_rows(codec: FieldCodec, rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "r": run_id,
            "old": bytes(blob),
            "new": codec.encrypt(bytes(blob), **SNAPSHOT_FEATURES.cell(str(run_id))),
        }
        for run_id, blob in rows
    ]


async def seal_plaintext_snapshots(runtime: Runtime, tenant: TenantRef) -> int:
    """Seal every snapshot of ``tenant`` still in clear; how many. A few per transaction, each
    written only if it still holds what was read."""
    table = SNAPSHOT_FEATURES.table
    clear = func.substring(table.c.features, 1, 4) == PARQUET_MAGIC
    sealed = 0
    codec: FieldCodec | None = None
    while True:
        async with tenant_connection(tenant, runtime.databases) as conn:
            rows = (
                await conn.execute(
                    select(table.c.run_id, table.c.features)
                    .where(clear)
                    .order_by(table.c.run_id)
                    .limit(SEAL_BATCH)
                )
            ).all()
            if not rows:
                return sealed
            if codec is None:
                codec = await codec_in(conn, tenant, kms_from_settings(runtime.settings))
            changes = await asyncio.to_thread(_seal_rows, codec, rows)
            await conn.execute(
                update(table)
                .where(
                    table.c.run_id == bindparam("r"),
                    table.c.features == bindparam("old", type_=LargeBinary),
                )
                .values(features=bindparam("new", type_=LargeBinary)),
                changes,
            )
            sealed += len(changes)
