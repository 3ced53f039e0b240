"""CSV export of the audit log: streamed, inert in spreadsheets, and itself audited.

The export is recorded (``audit.export``, with the filters) in its own committed transaction
*before* the first byte leaves: an export whose download is aborted half-way has still been
seen by someone, and the log must say so. The rows then stream from a second transaction in
chain order, bounded by that entry's ``seq`` so a long download reflects one moment of the log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.queries import AuditFilters, AuditRecord, iter_entries
from tierline.platform.audit.service import record
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.databases import Databases
from tierline.platform.tenancy import TenantRef, tenant_session

EXPORT_ACTION = "audit.export"
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_kind",
    "action",
    "object_type",
    "object_id",
    "reason",
    "request_id",
    "client_ip",
    "before",
    "after",
    "hash",
)
ROWS_PER_CHUNK = 500


def compact_json(value: Any) -> str:
    """JSON without spaces and with sorted keys (stable across exports); ``None`` is empty."""
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def iso_utc(at: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, to the microsecond the chain hashes."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def csv_row(entry: AuditRecord) -> list[str]:
    return safe_csv_row(
        [
            entry.seq,
            iso_utc(entry.at),
            entry.actor,
            entry.actor_kind,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.reason,
            entry.request_id,
            entry.client_ip,
            compact_json(entry.before),
            compact_json(entry.after),
            entry.hash_hex,
        ]
    )


def _encode(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return buffer.getvalue()


async def csv_chunks(
    entries: AsyncIterable[AuditRecord], rows_per_chunk: int = ROWS_PER_CHUNK
) -> AsyncIterator[str]:
    """The header line, then the rows in chunks (one write per chunk, not per row)."""
    yield _encode([list(CSV_COLUMNS)])
    chunk: list[list[str]] = []
    async for entry in entries:
        chunk.append(csv_row(entry))
        if len(chunk) >= rows_per_chunk:
            yield _encode(chunk)
            chunk = []
    if chunk:
        yield _encode(chunk)


async def record_export(
    session: AsyncSession,
    filters: AuditFilters,
    *,
    actor: str,
    actor_kind: str,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> int:
    """Audit the export itself; returns its ``seq``, the upper bound of what is exported."""
    entry = await record(
        session,
        actor=actor,
        actor_kind=actor_kind,
        action=EXPORT_ACTION,
        object_type="audit_log",
        after={"format": "csv", "filters": dict(filters.params)},
        request_id=request_id,
        client_ip=client_ip,
    )
    return entry.seq


async def stream_export(
    tenant: TenantRef,
    filters: AuditFilters,
    *,
    upto_seq: int,
    databases: Databases | None = None,
) -> AsyncIterator[str]:
    """CSV text of the matching entries up to ``upto_seq``, read in one tenant transaction."""
    async with tenant_session(tenant, databases) as session:
        async for chunk in csv_chunks(iter_entries(session, filters, upto_seq=upto_seq)):
            yield chunk


def export_filename(tenant: TenantRef, now: datetime) -> str:
    return f"audit-{tenant.slug}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.csv"
