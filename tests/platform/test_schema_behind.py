"""A tenant whose schema is older than the code is refused clearly (503), never served by code
that expects tables it lacks; once migrated it is served again."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import update

from tests.conftest import StaffFactory, sign_in
from tierline.platform.control_plane import Tenant
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef
from tierline.platform.tenant_directory import TenantBehind, TenantDirectory
from tierline.tenants.service import migrate_all


async def _set_recorded_revision(runtime: Runtime, tenant: TenantRef, revision: str) -> None:
    async with runtime.databases.control.begin() as conn:
        await conn.execute(
            update(Tenant).where(Tenant.id == tenant.id).values(schema_revision=revision)
        )


def runtime_directory(runtime: Runtime) -> TenantDirectory:
    return TenantDirectory(runtime.databases, ttl_seconds=0)


async def test_a_tenant_behind_the_code_is_refused_until_migrated(
    app: object, client: AsyncClient, runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant, "admin")
    assert (await sign_in(client, admin)).status_code == 303
    await _set_recorded_revision(runtime, tenant, "t0010")
    app.state.tenants.forget(tenant.slug)  # type: ignore[attr-defined]

    page = await client.get(f"/t/{tenant.slug}/admin/users")
    assert page.status_code == 503 and "being upgraded" in page.text
    api = await client.get("/api/v1/notifications", headers={"Accept": "application/json"})
    assert api.status_code in (404, 503)  # the credential's tenant is not served either
    directory = runtime_directory(runtime)
    try:
        await directory.get(tenant.slug)
        raise AssertionError("a tenant behind the code was served")
    except TenantBehind as refused:
        assert refused.status_code == 503

    await migrate_all(runtime.databases)  # records the real revision (its schema is at head)
    app.state.tenants.forget(tenant.slug)  # type: ignore[attr-defined]
    assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 200
