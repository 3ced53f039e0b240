"""What is kept of each import: its row in ``imports`` (validating, then applied or rejected
with its counts and the file's digest), its problems in ``import_errors``, the feed's freshness
and an audit entry; and reading them back for the import pages and API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.masterdata.importing import validate
from tierline.masterdata.importing.entities import EntitySpec
from tierline.masterdata.importing.models import Import, ImportError_
from tierline.masterdata.importing.pipeline import ImportRejected
from tierline.masterdata.importing.reader import FileRejected
from tierline.masterdata.models import Feed
from tierline.masterdata.profiles.definition import Profile
from tierline.platform.audit import record
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.db import utcnow
from tierline.platform.identity.users import SYSTEM, Actor
from tierline.platform.tenancy import TenantRef, tenant_session


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


@dataclass
class ImportResult:
    """What an import did: applied (with its counts) or rejected (with its first problems).

    The counts are of the records in the file. For customers and products from a system other
    than the ERP they say what happened to each record's golden record: ``inserted`` (a new
    golden record), ``updated`` (its golden record changed), ``unchanged``, or ``to_steward``
    (left for a data steward to decide). ``kept``: records whose values for some fields did
    not survive because another source holds them (see ``golden.survivorship.kept_fields``)."""

    import_id: uuid.UUID
    entity: str
    status: str  # applied | rejected
    total_rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    to_steward: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """What happened, without the outcome's own word (callers show it beside)."""
        if self.status == "applied":
            text = (
                f"{counted(self.total_rows, 'row')}: {self.inserted:,} new, "
                f"{self.updated:,} changed, {self.unchanged:,} unchanged"
            )
            if self.to_steward:
                text += f", {self.to_steward:,} sent to the data steward"
            return text
        return (
            f"{counted(self.error_count, 'problem')} in {counted(self.total_rows, 'row')}; "
            "nothing applied"
        )


async def update_feed(
    conn: AsyncConnection, spec: EntitySpec, source_system: str, newest: dt.datetime | None
) -> None:
    """The feed (entity from a source system) loaded now; its newest source timestamp only
    moves forward."""
    now = utcnow()
    stmt = pg_insert(Feed).values(
        name=f"{spec.name}:{source_system}",
        entity=spec.name,
        source_system=source_system,
        last_success_at=now,
        newest_source_at=newest,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "last_success_at": now,
                "newest_source_at": func.greatest(
                    Feed.newest_source_at, stmt.excluded.newest_source_at
                ),
            },
        )
    )


async def record_start(
    tenant: TenantRef,
    spec: EntitySpec,
    profile: Profile,
    file_name: str,
    size: int,
    actor: Actor,
    job_id: str | None,
) -> uuid.UUID:
    """Record the import as validating. Its SHA-256 is written with its outcome: the digest
    is read while the import goes on (empty until then)."""
    import_id = uuid.uuid4()
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(Import).values(
                id=import_id,
                entity=spec.name,
                profile=profile.name,
                source_system=profile.source_system,
                file_name=file_name[:300],
                file_sha256="",
                file_bytes=size,
                status="validating",
                created_by=actor.name,
                job_id=job_id,
                created_at=utcnow(),
            )
        )
    return import_id


async def record_rejection(
    tenant: TenantRef,
    import_id: uuid.UUID,
    rejected: ImportRejected | FileRejected,
    actor: Actor,
    spec: EntitySpec,
    sha: str,
) -> ImportResult:
    """Mark the import rejected and keep the problems found, audited, in a transaction of its
    own: the import's was rolled back."""
    if isinstance(rejected, FileRejected):
        errors = pl.DataFrame(
            {"line": [None], "column": [None], "value": [None], "reason": [str(rejected)]},
            schema=validate.ERROR_SCHEMA,
        )
        count, total = 1, 0
    else:
        errors, count, total = rejected.errors, rejected.error_count, rejected.total
    rows = storable(errors).to_dicts()
    async with tenant_session(tenant) as s:
        if rows:
            await s.execute(
                insert(ImportError_),
                [
                    {
                        "import_id": import_id,
                        "seq": i,
                        "line": r["line"],
                        "column_name": r["column"],
                        "value": r["value"],
                        "reason": r["reason"],
                    }
                    for i, r in enumerate(rows)
                ],
            )
        await s.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(
                status="rejected",
                failure_reason=None,
                file_sha256=sha,
                total_rows=total,
                error_count=count,
                finished_at=utcnow(),
            )
        )
        await record(
            s,
            actor=actor.name,
            actor_kind=actor.kind,
            action="imports.reject",
            object_type="import",
            object_id=str(import_id),
            after={"entity": spec.name, "errors": count, "rows": total},
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        )
    return ImportResult(
        import_id, spec.name, "rejected", total, error_count=count, errors=rows[:100]
    )


# What validation refuses (C0 controls but tab and line breaks), and DEL: PostgreSQL cannot
# store NUL in text at all, and the others would be invisible on the page and in the report.
_ESCAPED = [code for code in range(32) if code not in (9, 10, 13)] + [127]


def storable(errors: pl.DataFrame) -> pl.DataFrame:
    """The problems with control characters in their column, value and reason written out as
    ``\\x00``: a NUL byte in a file's value must not make its own error report unstorable."""
    texts = [c for c in ("column", "value", "reason") if c in errors.columns]
    if errors.is_empty():
        return errors
    hit = errors.select(
        pl.any_horizontal(
            pl.col(c).str.contains(validate.CONTROL_OR_DEL).fill_null(False) for c in texts
        ).any()
    ).item()
    if not hit:
        return errors
    exprs = []
    for column in texts:
        expr = pl.col(column)
        for code in _ESCAPED:
            expr = expr.str.replace_all(chr(code), f"\\x{code:02x}", literal=True)
        exprs.append(expr.alias(column))
    return errors.with_columns(exprs)


async def record_applied(
    conn: AsyncConnection, actor: Actor, result: ImportResult, name: str, sha: str
) -> None:
    """Mark the import applied with its counts and the file's digest, and audit it, inside the
    import's own transaction."""
    await conn.execute(
        update(Import)
        .where(Import.id == result.import_id)
        .values(
            status="applied",
            failure_reason=None,
            file_sha256=sha,
            total_rows=result.total_rows,
            inserted=result.inserted,
            updated=result.updated,
            unchanged=result.unchanged,
            to_steward=result.to_steward,
            finished_at=utcnow(),
        )
    )
    session = AsyncSession(bind=conn)
    try:
        await record(
            session,
            actor=actor.name,
            actor_kind=actor.kind,
            action="imports.apply",
            object_type="import",
            object_id=str(result.import_id),
            after={
                "entity": result.entity,
                "file": name,
                "sha256": sha,
                "rows": result.total_rows,
                "inserted": result.inserted,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "to_steward": result.to_steward,
                "fields_kept_by_other_sources": sum(len(k["fields"]) for k in result.kept),
            },
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        )
        await session.flush()
    finally:
        await session.close()


# Why an import that stopped half-way is marked failed (nothing of it was applied: an import
# is one transaction).
INTERRUPTED = (
    "the import was interrupted before it finished (the process running it stopped); "
    "nothing was applied: load the file again"
)
FAILED_HERE = "the import failed on our side; nothing was applied. Quote import id {id} to support"
# A running import refreshes its heartbeat this often; one silent for STALE_AFTER is dead.
HEARTBEAT_SECONDS = 30.0
STALE_AFTER = dt.timedelta(minutes=5)


async def record_failure(
    tenant: TenantRef, import_id: uuid.UUID, reason: str, actor: Actor, spec: EntitySpec
) -> None:
    """Mark a still-validating import failed with ``reason`` (what went wrong is in the log),
    audited, in a transaction of its own: the import's was rolled back."""
    async with tenant_session(tenant) as s:
        failed = await s.execute(
            update(Import)
            .where(Import.id == import_id, Import.status == "validating")
            .values(status="failed", failure_reason=reason, finished_at=utcnow())
        )
        if not failed.rowcount:  # type: ignore[attr-defined]
            return
        await record(
            s,
            actor=actor.name,
            actor_kind=actor.kind,
            action="imports.fail",
            object_type="import",
            object_id=str(import_id),
            after={"entity": spec.name, "reason": reason},
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        )


async def beat(tenant: TenantRef, import_id: uuid.UUID) -> None:
    """The import is alive. Never waits: once the import's own transaction holds the row (it
    is recording its outcome), there is nothing left to prove."""
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "UPDATE imports SET heartbeat_at = now() WHERE id = (SELECT id FROM imports "
                "WHERE id = :id AND status = 'validating' FOR UPDATE SKIP LOCKED)"
            ),
            {"id": import_id},
        )


async def fail_interrupted(tenant: TenantRef, stale_after: dt.timedelta = STALE_AFTER) -> list[str]:
    """Mark failed every import still ``validating`` that nothing runs any more: its heartbeat
    (the import's creation, before the first beat) is older than ``stale_after``; or its job
    ended or started again since (each attempt records an import of its own) and it missed
    two beats — an import still beating is never taken for dead (arq may deliver a job
    twice). The ids."""
    async with tenant_session(tenant) as s:
        found = await s.execute(
            text(
                "UPDATE imports i SET status = 'failed', failure_reason = :reason, "
                "finished_at = now() WHERE i.status = 'validating' AND ("
                "coalesce(i.heartbeat_at, i.created_at) < now() - CAST(:stale AS interval) "
                "OR coalesce(i.heartbeat_at, i.created_at) < now() - CAST(:missed AS interval) "
                "AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = i.job_id "
                "AND (j.status <> 'running' OR j.started_at > i.created_at))) "
                "RETURNING i.id, i.entity"
            ),
            {
                "reason": INTERRUPTED,
                "stale": stale_after,
                "missed": dt.timedelta(seconds=2 * HEARTBEAT_SECONDS),
            },
        )
        swept = [(str(r[0]), str(r[1])) for r in found]
        for import_id, entity_name in swept:
            await record(
                s,
                actor=SYSTEM.name,
                actor_kind=SYSTEM.kind,
                action="imports.fail",
                object_type="import",
                object_id=import_id,
                after={"entity": entity_name, "reason": INTERRUPTED},
            )
    return [import_id for import_id, _ in swept]


async def recent_imports(session: AsyncSession, limit: int = 50) -> list[Import]:
    """The latest imports, newest first."""
    query = select(Import).order_by(Import.created_at.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def find_import(tenant: TenantRef, import_id: str) -> Import | None:
    """The import with this id (as typed in a URL); None for anything else."""
    try:
        key = uuid.UUID(import_id)
    except ValueError:
        return None
    async with tenant_session(tenant) as s:
        return await s.get(Import, key)


async def import_errors(
    tenant: TenantRef, import_id: uuid.UUID, limit: int | None = None
) -> list[ImportError_]:
    """An import's problems in the order they were found (the first ``limit``)."""
    async with tenant_session(tenant) as s:
        query = (
            select(ImportError_)
            .where(ImportError_.import_id == import_id)
            .order_by(ImportError_.seq)
        )
        if limit:
            query = query.limit(limit)
        return list((await s.execute(query)).scalars())


def errors_csv(rows: list[Any]) -> bytes:
    """The error report as CSV (line, column, value, reason), safe to open in a spreadsheet;
    UTF-8 with a byte-order mark, so Excel does not read it as the local code page."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "reason"])
    for r in rows:
        writer.writerow(safe_csv_row([r.line, r.column_name, r.value, r.reason]))
    return out.getvalue().encode()
