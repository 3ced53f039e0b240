"""The override expiry job: every tenant, once an hour (idempotent, so "daily" holds).

Each tenant is handled in its own transaction: approved overrides whose expiry date has come
are reverted to the latest rule result, pending requests past their expiry are marked expired,
and the people concerned are notified in the same transaction. A retried or concurrent tick
finds nothing left to do (rows are decided, or locked and skipped).

The worker imports every ``jobs`` module of every package (``platform.assembly``), so the
periodic task registers.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from tierline.governance.overrides import ExpiryOutcome, expire_overrides
from tierline.platform.identity.users import SYSTEM
from tierline.platform.jobs.registry import periodic
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_session

log = logging.getLogger(__name__)


async def expire_tenant(runtime: Runtime, tenant: TenantRef, today: date) -> ExpiryOutcome:
    async with tenant_session(tenant, runtime.databases) as session:
        return await expire_overrides(session, today, SYSTEM, tenant_slug=tenant.slug)


async def expire_all_tenants(runtime: Runtime, today: date | None = None) -> int:
    """Every active tenant in every region; how many overrides were reverted or expired."""
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    today = today or datetime.now(UTC).date()
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    changed = 0
    for info in await list_tenants(runtime.databases):
        if info.status != "active":
            continue
        try:
            outcome = await expire_tenant(runtime, await directory.get(info.slug), today)
        except TenantNotFound:
            continue
        except Exception:  # one tenant's trouble must not stop the others' expiries
            log.exception("expiring overrides of tenant %s failed", info.slug)
            continue
        changed += len(outcome.reverted) + len(outcome.expired)
    return changed


@periodic(second=41, minute={7})
async def expire_due_overrides(ctx: dict[str, Any]) -> int:
    """Hourly in the worker: revert the overrides whose expiry date has come."""
    return await expire_all_tenants(ctx["runtime"])
