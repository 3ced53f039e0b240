"""The tenant unit of work never lets one tenant see another's rows, even on a busy pool."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select, text

from tests.conftest import TenantFactory
from tierline.platform.databases import Databases
from tierline.platform.db import utcnow
from tierline.platform.jobs.models import TenantJob
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session


def job_row(job_id: str) -> TenantJob:
    return TenantJob(
        id=job_id,
        kind="isolation",
        status="queued",
        progress=0.0,
        message="",
        params={},
        attempts=0,
        created_at=utcnow(),
    )


async def test_rows_of_one_tenant_are_invisible_to_another(make_tenant: TenantFactory) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with tenant_session(a) as s:
        s.add(job_row("only-in-a"))
    async with tenant_session(b) as s:
        assert await s.get(TenantJob, "only-in-a") is None
        raw = await s.execute(text("SELECT count(*) FROM jobs WHERE id = 'only-in-a'"))
        assert raw.scalar() == 0
    async with tenant_session(a) as s:
        assert (await s.get(TenantJob, "only-in-a")) is not None


async def test_interleaved_requests_on_a_small_pool_stay_isolated(
    runtime: Runtime, make_tenant: TenantFactory
) -> None:
    """240 interleaved writes and reads across 3 tenants through a pool of 2 (+2 overflow)."""
    tenants = [await make_tenant() for _ in range(3)]
    databases = Databases.from_endpoints(runtime.endpoints, pool_size=2)
    rng = random.Random(7)
    written: dict[str, set[str]] = {t.slug: set() for t in tenants}

    async def one(i: int, tenant: TenantRef) -> None:
        job_id = f"{tenant.slug}-{i}"
        async with tenant_session(tenant, databases) as s:
            s.add(job_row(job_id))
            await asyncio.sleep(rng.random() / 200)  # hold the connection so others interleave
            await s.flush()
            ids = set((await s.execute(select(TenantJob.id))).scalars())
            foreign = {x for x in ids if not x.startswith(f"{tenant.slug}-")}
            assert not foreign, f"{tenant.slug} saw {foreign}"
            raw = await s.execute(text("SELECT id FROM jobs"))  # search_path backstop
            assert all(r[0].startswith(f"{tenant.slug}-") for r in raw)
        written[tenant.slug].add(job_id)

    try:
        await asyncio.gather(*(one(i, tenants[i % 3]) for i in range(240)))
    finally:
        await databases.dispose()
    for tenant in tenants:
        async with tenant_session(tenant) as s:
            ids = set((await s.execute(select(TenantJob.id))).scalars())
        assert ids == written[tenant.slug]


async def test_search_path_does_not_leak_to_the_next_pool_user(
    runtime: Runtime, tenant: TenantRef
) -> None:
    databases = Databases.from_endpoints(runtime.endpoints, pool_size=1)
    try:
        async with tenant_connection(tenant, databases) as conn:
            inside = (await conn.execute(text("SHOW search_path"))).scalar()
        engine = databases.region(tenant.region)
        async with engine.connect() as conn:  # the same pooled connection comes back
            after = (await conn.execute(text("SHOW search_path"))).scalar()
    finally:
        await databases.dispose()
    assert inside == f'"{tenant.schema}"' or inside == tenant.schema
    assert tenant.schema not in str(after)


async def test_savepoint_rollback_keeps_the_tenant_binding(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        nested = await s.begin_nested()
        await s.execute(text("SELECT 1"))
        await nested.rollback()
        path = (await s.execute(text("SHOW search_path"))).scalar()
        assert tenant.schema in str(path)


async def test_failed_unit_of_work_rolls_back_everything(tenant: TenantRef) -> None:
    with pytest.raises(RuntimeError):
        async with tenant_session(tenant) as s:
            s.add(job_row("never"))
            await s.flush()
            raise RuntimeError("boom")
    async with tenant_session(tenant) as s:
        assert (await s.execute(select(func.count()).select_from(TenantJob))).scalar() == 0


async def test_unit_of_work_refuses_a_tenant_of_an_unknown_region(runtime: Runtime) -> None:
    from tierline.platform.databases import UnknownRegion

    ghost = TenantRef(id=__import__("uuid").uuid4(), slug="ghost_town", name="Ghost", region="ap")
    with pytest.raises(UnknownRegion):
        async with tenant_session(ghost):
            pass


async def test_region_database_stamped_for_another_region_is_refused(runtime: Runtime) -> None:
    from tierline.platform.databases import RegionMismatch, ServiceEndpoints

    swapped = ServiceEndpoints(
        control_url=runtime.endpoints.control_url,
        regions={"eu": runtime.endpoints.regions["us"], "us": runtime.endpoints.regions["eu"]},
        redis_url=runtime.endpoints.redis_url,
    )
    databases = Databases.from_endpoints(swapped, pool_size=1)
    try:
        with pytest.raises(RegionMismatch, match="belongs to region 'us'"):
            await databases.verified_region("eu")
    finally:
        await databases.dispose()
