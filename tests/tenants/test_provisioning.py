"""Provisioning is all-or-nothing and pins every row of a tenant to its region."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from tests.conftest import unique_slug
from tierline.platform.alembic_runner import head_revision
from tierline.platform.control_plane import Tenant
from tierline.platform.databases import (
    Databases,
    RegionUnavailable,
    ServiceEndpoints,
    UnknownRegion,
)
from tierline.platform.db import InvalidSlug
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import tenant_session
from tierline.platform.tenant_directory import list_tenants
from tierline.tenants.errors import DuplicateTenant, ProvisioningFailed, SchemaConflict
from tierline.tenants.service import provision_tenant


async def schema_exists(runtime: Runtime, region: str, schema: str) -> bool:
    async with runtime.databases.region(region).connect() as conn:
        found = await conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        )
        return found.first() is not None


async def control_row(runtime: Runtime, slug: str) -> Tenant | None:
    async with runtime.databases.control.connect() as conn:
        return (await conn.execute(select(Tenant).where(Tenant.slug == slug))).first()  # type: ignore[return-value]


async def test_tenant_schema_lives_only_in_its_region(runtime: Runtime) -> None:
    slug = unique_slug("eu")
    tenant = await provision_tenant(runtime.databases, slug, "Residency Check", "eu")
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "INSERT INTO jobs (id, kind, status, progress, message, params, attempts, "
                "created_at) VALUES ('j1', 'k', 'queued', 0, '', '{}', 0, now())"
            )
        )
    assert await schema_exists(runtime, "eu", tenant.schema)
    assert not await schema_exists(runtime, "us", tenant.schema)
    async with runtime.databases.region("eu").connect() as conn:
        count = (await conn.execute(text(f'SELECT count(*) FROM "{tenant.schema}".jobs'))).scalar()
    assert count == 1
    info = {t.slug: t for t in await list_tenants(runtime.databases)}[slug]
    assert (info.region, info.status, info.schema, info.revision) == (
        "eu",
        "active",
        f"t_{slug}",
        head_revision("tenant"),
    )


async def test_duplicate_slug_is_rejected_and_changes_nothing(runtime: Runtime) -> None:
    slug = unique_slug("dup")
    await provision_tenant(runtime.databases, slug, "First", "eu")
    with pytest.raises(DuplicateTenant, match="already exists"):
        await provision_tenant(runtime.databases, slug, "Second", "us")
    row = await control_row(runtime, slug)
    assert row is not None and row.name == "First" and row.region == "eu"
    assert not await schema_exists(runtime, "us", f"t_{slug}")


@pytest.mark.parametrize("slug", ["ab", "Bad", "1abc", "a-b-c", "x" * 41, "t;drop", "évian", ""])
async def test_invalid_slugs_create_nothing(runtime: Runtime, slug: str) -> None:
    with pytest.raises(InvalidSlug, match="invalid tenant slug"):
        await provision_tenant(runtime.databases, slug, "Nope", "eu")


async def test_unknown_region_is_rejected(runtime: Runtime) -> None:
    slug = unique_slug("mars")
    with pytest.raises(UnknownRegion, match="unknown region 'mars'"):
        await provision_tenant(runtime.databases, slug, "Nope", "mars")
    assert await control_row(runtime, slug) is None


async def test_unreachable_region_creates_nothing(runtime: Runtime) -> None:
    endpoints = ServiceEndpoints(
        control_url=runtime.endpoints.control_url,
        regions={**runtime.endpoints.regions, "ap": "postgresql+asyncpg://x:y@127.0.0.1:9/none"},
        redis_url=runtime.endpoints.redis_url,
    )
    databases = Databases.from_endpoints(endpoints, pool_size=2)
    slug = unique_slug("ap")
    try:
        with pytest.raises(RegionUnavailable, match="region 'ap' database is unreachable"):
            await provision_tenant(databases, slug, "Nope", "ap")
    finally:
        await databases.dispose()
    assert await control_row(runtime, slug) is None


async def test_failure_midway_leaves_no_schema_and_no_row(runtime: Runtime) -> None:
    slug = unique_slug("boom")

    async def explode_after_migration(fraction: float, message: str) -> None:
        if message == "schema migrated":
            raise OSError("disk full (simulated)")

    with pytest.raises(ProvisioningFailed, match="was undone"):
        await provision_tenant(runtime.databases, slug, "Boom", "eu", explode_after_migration)
    assert await control_row(runtime, slug) is None
    assert not await schema_exists(runtime, "eu", f"t_{slug}")


async def test_existing_schema_is_never_reused(runtime: Runtime) -> None:
    slug = unique_slug("squat")
    async with runtime.databases.region("eu").begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "t_{slug}"'))
        await conn.execute(text(f'CREATE TABLE "t_{slug}".keep_me (id int)'))
    with pytest.raises(SchemaConflict, match="already exists"):
        await provision_tenant(runtime.databases, slug, "Squatter", "eu")
    assert await control_row(runtime, slug) is None
    async with runtime.databases.region("eu").connect() as conn:
        kept = await conn.execute(text(f"SELECT to_regclass('\"t_{slug}\".keep_me')"))
        assert kept.scalar() is not None
