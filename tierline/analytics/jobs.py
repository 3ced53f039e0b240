"""The scheduled S&OP pack: every hour the worker makes, for each active tenant, the pack of
the month just ended if it is not made yet (the unique scheduled run per month makes a retry
or a second worker harmless)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tierline.platform.jobs.registry import periodic
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound

log = logging.getLogger(__name__)


async def scheduled_packs(runtime: Runtime, today: datetime | None = None) -> int:
    """The previous month's pack for every active tenant without one; how many were made."""
    from tierline.analytics.sop.service import make_pack, previous_month
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    month = previous_month((today or datetime.now(UTC)).date())
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    made = 0
    for info in await list_tenants(runtime.databases):
        if info.status != "active":
            continue
        try:
            tenant = await directory.get(info.slug)
            run = await make_pack(
                runtime, tenant, month, trigger="schedule", requested_by=None,
                base_url=runtime.settings.base_url,
            )  # fmt: skip
        except TenantNotFound:
            continue
        except Exception:  # one tenant's trouble must not stop the others' packs
            log.exception("S&OP pack of tenant %s failed", info.slug)
            continue
        made += run is not None
    return made


@periodic(second=29, minute={47})
async def make_scheduled_packs(ctx: dict[str, Any]) -> int:
    """Hourly in the worker (cheap when the month's packs exist: one insert refused each)."""
    return await scheduled_packs(ctx["runtime"])
