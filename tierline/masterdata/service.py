"""Master data's face to the other domains: what they may ask of customers, products, order
history, feeds, import profiles and imports. Other domains import this module, never master
data's models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.importing import ImportResult, run_import
from tierline.masterdata.models import Customer, Feed
from tierline.masterdata.profile_store import get_profile, list_profiles
from tierline.masterdata.profiles import Profile, ProfileError
from tierline.platform.tenancy import TenantRef, tenant_session

__all__ = [
    "ImportResult",
    "Profile",
    "ProfileError",
    "customer_count",
    "customer_exists",
    "get_profile",
    "list_profiles",
    "run_import",
    "stale_order_feeds",
]


async def customer_count(tenant: TenantRef) -> int:
    """How many customers the tenant holds."""
    async with tenant_session(tenant) as s:
        return int(await s.scalar(select(func.count()).select_from(Customer)) or 0)


async def customer_exists(session: AsyncSession, code: str) -> bool:
    """Whether a customer with ``code`` exists (golden record)."""
    return await session.scalar(select(Customer.code).where(Customer.code == code)) is not None


async def stale_order_feeds(session: AsyncSession, now: datetime) -> list[str]:
    """Order-history feeds past their staleness threshold, as readable sentences."""
    feeds = (await session.execute(select(Feed).where(Feed.entity == "order_lines"))).scalars()
    stale: list[str] = []
    for feed in feeds:
        if feed.last_success_at is None:
            continue
        age_hours = (now - feed.last_success_at).total_seconds() / 3600
        if age_hours > feed.staleness_hours:
            stale.append(
                f"feed '{feed.name}' last loaded {age_hours:.0f} h ago "
                f"(threshold {feed.staleness_hours} h)"
            )
    return stale
