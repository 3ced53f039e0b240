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
from sqlalchemy import func, insert, select, update
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
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import TenantRef, tenant_session


@dataclass
class ImportResult:
    """What an import did: applied (with its counts) or rejected (with its first problems)."""

    import_id: uuid.UUID
    entity: str
    status: str  # applied | rejected
    total_rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        if self.status == "applied":
            return (
                f"{self.total_rows} rows: {self.inserted} new, {self.updated} changed, "
                f"{self.unchanged} unchanged"
            )
        return f"rejected: {self.error_count} problem(s) in {self.total_rows} rows; nothing applied"


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
    rows = errors.to_dicts()
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
            file_sha256=sha,
            total_rows=result.total_rows,
            inserted=result.inserted,
            updated=result.updated,
            unchanged=result.unchanged,
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
            },
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        )
        await session.flush()
    finally:
        await session.close()


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
    """The error report as CSV (line, column, value, reason), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "reason"])
    for r in rows:
        writer.writerow(safe_csv_row([r.line, r.column_name, r.value, r.reason]))
    return out.getvalue().encode()
