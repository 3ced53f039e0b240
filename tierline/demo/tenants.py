"""The demo tenants, one per region, and one staff login per role in each."""

from __future__ import annotations

from sqlalchemy import select

from tierline.platform.runtime import Runtime
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


async def demo_tenants(runtime: Runtime) -> list[TenantRef]:
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants
    from tierline.tenants.service import provision_tenant

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
