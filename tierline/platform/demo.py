"""``tierline demo``: demo tenants in every region with one staff user per role."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from tierline.platform.runtime import Runtime, open_runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session

DEMO_TENANTS = (
    ("acme_eu", "Acme Industrial Europe", "eu"),
    ("globex_us", "Globex Distribution US", "us"),
)
DEMO_ROLES = (
    "admin",
    "planner",
    "data_steward",
    "approver",
    "account_manager",
    "analyst",
    "auditor",
)


def demo_email(role: str, slug: str) -> str:
    return f"{role.replace('_', '.')}@{slug.replace('_', '-')}.demo"


async def ensure_demo_users(tenant: TenantRef, password: str) -> list[str]:
    """One active user per staff role, all with ``password`` (reset on every demo run)."""
    from tierline.platform.identity.models import User
    from tierline.platform.identity.users import SYSTEM, create_user, set_password

    emails = []
    async with tenant_session(tenant) as s:
        for role in DEMO_ROLES:
            email = demo_email(role, tenant.slug)
            user = (await s.execute(select(User).where(User.email == email))).scalar_one_or_none()
            if user is None:
                await create_user(
                    s,
                    email=email,
                    role=role,
                    actor=SYSTEM,
                    password=password,
                    display_name=f"Demo {role.replace('_', ' ')}",
                )
            else:
                user.status, user.failed_logins, user.locked_until = "active", 0, None
                await set_password(s, user, password, SYSTEM)
            emails.append(email)
    return emails


async def _demo_tenants(runtime: Runtime) -> list[TenantRef]:
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.service import TenantDirectory, list_tenants, provision_tenant

    existing = {t.slug for t in await list_tenants(runtime.databases)}
    regions = runtime.databases.region_names
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    tenants = []
    for index, (slug, name, preferred) in enumerate(DEMO_TENANTS):
        region = preferred if preferred in regions else regions[index % len(regions)]
        if slug not in existing:
            await provision_tenant(
                runtime.databases, slug, name, region, kms=kms_from_settings(runtime.settings)
            )
        tenants.append(await directory.get(slug))
    return tenants


async def _seed_if_empty(runtime: Runtime, tenant: TenantRef, console: Any) -> None:
    from sqlalchemy import func

    from tierline.masterdata.models import Customer
    from tierline.masterdata.seeding import seed_tenant

    async with tenant_session(tenant) as s:
        if await s.scalar(select(func.count()).select_from(Customer)):
            return
    if console is not None:
        console.print(f"loading demo data into {tenant.name} …")
    await seed_tenant(runtime, tenant, "small")


async def prepare_demo(settings: Settings, base_url: str, console: Any = None) -> list[str]:
    """Migrate, create what is missing (tenants, logins, data), and say where to look."""
    from tierline.portal.demo import ensure_portal_demo_user
    from tierline.segmentation.demo import seed_segmentation
    from tierline.segmentation.entitlements_demo import seed_entitlements
    from tierline.tenants.migrate import migrate_all

    password = "demo-" + secrets.token_urlsafe(9)
    lines: list[str] = []
    async with open_runtime(settings) as runtime:
        await migrate_all(runtime.databases, settings.migrate_concurrency)
        for tenant in await _demo_tenants(runtime):
            emails = await ensure_demo_users(tenant, password)
            await _seed_if_empty(runtime, tenant, console)
            await seed_segmentation(runtime, tenant)
            await seed_entitlements(runtime, tenant)
            lines.append(
                f"  [bold]{tenant.name}[/bold] (region {tenant.region}): "
                f"{base_url}/t/{tenant.slug}/"
            )
            lines += [f"      {email}" for email in emails]
            lines.append(await ensure_portal_demo_user(tenant, password, base_url))
    return [
        "[bold]Tierline demo is ready.[/bold] Open a workspace and sign in as any role:",
        *lines,
        f"  Password for every demo login (new on each `tierline demo`): [bold]{password}[/bold]",
        f"  API schema: {base_url}/schema",
        f"  Health: {base_url}/health · Readiness: {base_url}/ready",
    ]
