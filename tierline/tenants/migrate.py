"""The migration orchestrator: control database first, then every tenant schema in every region.

Current schemas are found with one query per region and skipped without starting Alembic.
Each pending schema is upgraded in its own transaction under an advisory lock (two concurrent
``tierline migrate`` runs cannot interleave on one schema), with bounded concurrency. A failure
is recorded for that schema and the others go on; rerunning completes what failed.

With a runtime, each upgraded tenant then runs the packages' data steps (``Plugin.data_steps``:
data changes that need the tenant's keys, such as sealing what an older release stored in
clear). A tenant's revision is recorded in the control database only when its schema and its
data steps are done, so a failing step leaves the tenant refused as behind (never served
half-migrated) and the next run, seeing the recorded revision short of head, runs the steps
again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tierline.platform.alembic_runner import head_revision, run_upgrade
from tierline.platform.control_plane import Tenant, ensure_region_rows, migrate_control
from tierline.platform.databases import Databases
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

_UNION_CHUNK = 400


@dataclass
class SchemaResult:
    slug: str
    region: str
    schema: str
    before: str | None
    after: str | None
    status: str  # current | upgraded | failed
    error: str | None = None
    data_changes: dict[str, int] = field(default_factory=dict)  # data step -> rows changed


@dataclass
class MigrationReport:
    control_before: str | None
    control_after: str
    head: str
    results: list[SchemaResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SchemaResult]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


async def schema_revisions(engine: AsyncEngine, schemas: list[str]) -> dict[str, str | None]:
    """The Alembic revision of each schema (None when it has no version table)."""
    found: dict[str, str | None] = dict.fromkeys(schemas)
    async with engine.connect() as conn:
        versioned = [
            r[0]
            for r in await conn.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version' AND table_schema = ANY(:s)"
                ),
                {"s": schemas},
            )
        ]
        for start in range(0, len(versioned), _UNION_CHUNK):
            chunk = versioned[start : start + _UNION_CHUNK]
            # Schema names come from validated slugs; quoting them is enough.
            union = " UNION ALL ".join(
                f"SELECT '{s}' AS s, version_num FROM \"{s}\".alembic_version" for s in chunk
            )
            for schema, version in await conn.execute(text(union)):
                found[schema] = version
    return found


async def upgrade_schema(engine: AsyncEngine, schema: str) -> str:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": schema})
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        revision = await run_upgrade(conn, "tenant", schema)
    return revision


async def _tenant_rows(databases: Databases) -> list[Any]:
    async with databases.control.connect() as conn:
        result = await conn.execute(
            select(
                Tenant.slug,
                Tenant.region,
                Tenant.schema_name,
                Tenant.schema_revision,
                Tenant.id,
                Tenant.name,
                Tenant.status,
            )
            .where(Tenant.status != "provisioning")
            .order_by(Tenant.slug)
        )
        return list(result.all())


async def _plan(
    databases: Databases, tenants: list[Any], head: str
) -> tuple[list[SchemaResult], list[tuple[SchemaResult, AsyncEngine]]]:
    """Split tenants into settled results (current, or region missing) and pending upgrades."""
    settled: list[SchemaResult] = []
    pending: list[tuple[SchemaResult, AsyncEngine]] = []
    for region in sorted({t.region for t in tenants}):
        in_region = [t for t in tenants if t.region == region]
        engine = databases.regions.get(region)
        if engine is None:
            settled += [
                SchemaResult(
                    t.slug,
                    region,
                    t.schema_name,
                    None,
                    None,
                    "failed",
                    f"region '{region}' is not configured",
                )
                for t in in_region
            ]
            continue
        current = await schema_revisions(engine, [t.schema_name for t in in_region])
        for t in in_region:
            before = current[t.schema_name]
            result = SchemaResult(t.slug, region, t.schema_name, before, None, "")
            if before == head:
                result.status, result.after = "current", head
                settled.append(result)
            else:
                pending.append((result, engine))
    return settled, pending


async def migrate_all(
    databases: Databases,
    concurrency: int = 8,
    on_total: Callable[[int], None] | None = None,
    on_result: Callable[[SchemaResult], None] | None = None,
    runtime: Runtime | None = None,
) -> MigrationReport:
    """Bring the control database and every tenant schema to head, then (with a ``runtime``)
    run the data steps for each; see the module docstring."""
    control_before, control_after = await migrate_control(databases)
    for region in databases.region_names:
        await databases.verified_region(region)
    await ensure_region_rows(databases)
    head = head_revision("tenant")
    report = MigrationReport(control_before, control_after, head)
    tenants = await _tenant_rows(databases)
    if on_total:
        on_total(len(tenants))

    def done(result: SchemaResult) -> None:
        report.results.append(result)
        if on_result:
            on_result(result)

    settled, pending = await _plan(databases, tenants, head)
    steps = _data_steps() if runtime is not None else []
    refs = {t.slug: TenantRef(t.id, t.slug, t.name, t.region, t.status) for t in tenants}
    # A schema at head whose tenant is not recorded at head yet (an earlier run died in a data
    # step, or before recording) runs the data steps again; the others cost nothing.
    recorded = {t.slug: t.schema_revision for t in tenants}
    again = [r for r in settled if steps and r.status == "current" and recorded[r.slug] != head]
    for result in settled:
        if result not in again:
            done(result)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def run(result: SchemaResult, engine: AsyncEngine | None) -> None:
        async with gate:
            if engine is not None:
                try:
                    result.after = await upgrade_schema(engine, result.schema)
                    result.status = "upgraded"
                except Exception as exc:  # reported per schema; the others go on
                    result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
            if steps and runtime is not None and result.status != "failed":
                await _run_data_steps(runtime, refs[result.slug], result, steps)
        done(result)

    work: list[tuple[SchemaResult, AsyncEngine | None]] = [*pending, *((r, None) for r in again)]
    await asyncio.gather(*(run(r, e) for r, e in work))
    await _record_revisions(databases, tenants, report)
    report.results.sort(key=lambda r: r.slug)
    return report


def _data_steps() -> list[tuple[str, Any]]:
    from tierline.platform import assembly

    return assembly.data_steps()


async def _run_data_steps(
    runtime: Runtime, tenant: TenantRef, result: SchemaResult, steps: list[tuple[str, Any]]
) -> None:
    for name, step in steps:
        try:
            result.data_changes[name] = int(await step(runtime, tenant))
        except Exception as exc:  # the schema is at head; the data step is retried next time
            result.status = "failed"
            result.error = f"data step {name}: {type(exc).__name__}: {exc}"[:500]
            return


async def _record_revisions(
    databases: Databases, tenants: list[Any], report: MigrationReport
) -> None:
    recorded = {t.slug: t.schema_revision for t in tenants}
    # A failed tenant keeps its recorded revision: served again (see ``TenantBehind``) only once
    # its schema and its data steps are both done.
    changed = [
        r
        for r in report.results
        if r.after and r.status != "failed" and recorded.get(r.slug) != r.after
    ]
    if not changed:
        return
    async with databases.control.begin() as conn:
        for r in changed:
            await conn.execute(
                update(Tenant).where(Tenant.slug == r.slug).values(schema_revision=r.after)
            )


async def migrate_before_serving(runtime: Runtime) -> list[str]:
    """Bring the control database and every tenant schema to head; a line per failed schema."""
    report = await migrate_all(
        runtime.databases, runtime.settings.migrate_concurrency, runtime=runtime
    )
    return [f"{failed.slug} not migrated: {failed.error}" for failed in report.failed]
