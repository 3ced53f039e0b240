"""``tierline migrate``: idempotent, per-schema transactions, failures isolated and resumable."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import TenantFactory
from tierline.platform.alembic_runner import head_revision
from tierline.platform.runtime import Runtime
from tierline.tenants.migrate import migrate_all, schema_revisions


async def test_migrate_is_idempotent(runtime: Runtime, make_tenant: TenantFactory) -> None:
    await make_tenant("eu")
    await make_tenant("us")
    first = await migrate_all(runtime.databases)
    second = await migrate_all(runtime.databases)
    assert not first.failed and not second.failed
    assert second.count("upgraded") == 0
    assert second.count("current") == len(second.results) >= 2
    assert second.control_before == second.control_after == head_revision("control")


async def test_failed_schema_is_reported_others_go_on_and_rerun_completes(
    runtime: Runtime, make_tenant: TenantFactory
) -> None:
    broken, healthy = await make_tenant("eu"), await make_tenant("eu")
    engine = runtime.databases.region("eu")
    async with engine.begin() as conn:
        # Both schemas lose their tables (as if never migrated); one also gets an obstacle
        # that makes its migration fail half-way through.
        for t in (broken, healthy):
            await conn.execute(text(f'DROP SCHEMA "{t.schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{t.schema}"'))
        await conn.execute(text(f'CREATE VIEW "{broken.schema}".ix_jobs_kind AS SELECT 1 AS x'))

    report = await migrate_all(runtime.databases)
    by_slug = {r.slug: r for r in report.results}
    assert by_slug[broken.slug].status == "failed"
    assert "ix_jobs_kind" in (by_slug[broken.slug].error or "")
    assert by_slug[healthy.slug].status == "upgraded"
    # the failed schema rolled back as a whole: no half-created jobs table
    revisions = await schema_revisions(engine, [broken.schema, healthy.schema])
    assert revisions == {broken.schema: None, healthy.schema: head_revision("tenant")}
    async with engine.connect() as conn:
        half = await conn.execute(text(f"SELECT to_regclass('\"{broken.schema}\".jobs')"))
        assert half.scalar() is None

    async with engine.begin() as conn:
        await conn.execute(text(f'DROP VIEW "{broken.schema}".ix_jobs_kind'))
    rerun = await migrate_all(runtime.databases)
    assert {r.slug: r.status for r in rerun.results}[broken.slug] == "upgraded"
    assert not rerun.failed


async def test_control_stream_upgrades_from_empty(runtime: Runtime) -> None:
    """A brand-new control database reaches head with all its tables."""
    import uuid

    from sqlalchemy.ext.asyncio import create_async_engine

    from tierline.platform.control_plane import migrate_control

    name = f"tl_empty_{uuid.uuid4().hex[:8]}"
    async with runtime.databases.control.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text(f'CREATE DATABASE "{name}"')
        )
    url = runtime.endpoints.control_url.rsplit("/", 1)[0] + f"/{name}"
    engine = create_async_engine(url)
    try:
        from tierline.platform.databases import Databases

        dbs = Databases(control=engine, regions={})
        before, after = await migrate_control(dbs)
        assert (before, after) == (None, head_revision("control"))
        async with engine.connect() as conn:
            tables = {
                r[0]
                for r in await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            }
        assert {"regions", "tenants", "tenant_groups", "control_jobs", "alembic_version"} <= tables
        assert await migrate_control(dbs) == (head_revision("control"),) * 2
    finally:
        await engine.dispose()
