"""Master data's face to the other domains: what they may ask of customers, products, order
history and imports. Other domains import this module, never master data's models."""

from __future__ import annotations

from sqlalchemy import func, select

from tierline.masterdata.importing import ImportResult, run_import
from tierline.masterdata.models import Customer
from tierline.platform.tenancy import TenantRef, tenant_session

__all__ = ["ImportResult", "customer_count", "run_import"]


async def customer_count(tenant: TenantRef) -> int:
    """How many customers the tenant holds."""
    async with tenant_session(tenant) as s:
        return int(await s.scalar(select(func.count()).select_from(Customer)) or 0)
