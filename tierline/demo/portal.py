"""A demo portal login: one customer user for a demo tenant, reset on every ``tierline demo``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import exists, select

from tierline.masterdata.service import customer_directory
from tierline.platform.identity.models import User
from tierline.platform.identity.users import SYSTEM, create_user, set_password
from tierline.platform.runtime import Runtime
from tierline.platform.settings import get_settings
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import open_customer_assignments


def portal_demo_email(code: str, slug: str) -> str:
    local = re.sub(r"[^a-z0-9]+", ".", code.lower()).strip(".") or "customer"
    return f"buyer.{local}@{slug.replace('_', '-')}.demo"


async def _demo_account(tenant: TenantRef) -> str | None:
    """A sold-to with ship-tos and an open customer segment; else any assigned customer."""
    customers = customer_directory()
    children = customer_directory().alias("children")
    assigned = open_customer_assignments()
    query = (
        select(customers.c.code)
        .join(assigned, assigned.c.customer_code == customers.c.code)
        .order_by(customers.c.code)
        .limit(1)
    )
    with_children = query.where(
        customers.c.account_type == "sold_to",
        exists(select(children.c.code).where(children.c.parent_code == customers.c.code)),
    )
    async with tenant_session(tenant) as s:
        code = (await s.execute(with_children)).scalar_one_or_none()
        if code is None:
            code = (await s.execute(query)).scalar_one_or_none()
    return code


async def ensure_portal_demo_user(tenant: TenantRef, password: str, base_url: str = "") -> str:
    """Create (or re-activate with ``password``) the demo customer user; one printable line."""
    base = base_url or get_settings().base_url
    code = await _demo_account(tenant)
    if code is None:
        return f"  portal: no customer with a segment yet in {tenant.slug} (run a scheme first)"
    email = portal_demo_email(code, tenant.slug)
    async with tenant_session(tenant) as s:
        user = (await s.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            await create_user(
                s,
                email=email,
                role="customer",
                actor=SYSTEM,
                kind="customer",
                customer_code=code,
                password=password,
                display_name=f"Demo buyer {code}",
            )
        else:
            user.status, user.failed_logins, user.locked_until = "active", 0, None
            user.customer_code = code
            await set_password(s, user, password, SYSTEM)
    return f"  portal (customer {code}): {base}/portal/{tenant.slug}/login\n      {email}"


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: a customer portal login sharing the demo password."""
    return [await ensure_portal_demo_user(tenant, demo.password, demo.base_url)]
