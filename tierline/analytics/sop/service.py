"""Making a pack: on demand (kept, returned) and on schedule (the previous month's pack on the
first days of a month, once per tenant and month, subscribers e-mailed)."""

from __future__ import annotations

from datetime import date

from tierline.analytics.cohorts.panel import add_months
from tierline.analytics.sop.pack import build_pack
from tierline.analytics.sop.runs import RunInfo, keep_pack, scheduled_made, tell_subscribers
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


def pack_link(base_url: str, tenant: TenantRef, run: RunInfo) -> str:
    return f"{base_url.rstrip('/')}/t/{tenant.slug}/analytics/reports/{run.id}"


async def make_pack(
    runtime: Runtime,
    tenant: TenantRef,
    month: date,
    *,
    trigger: str,
    requested_by: str | None,
    base_url: str = "",
) -> RunInfo | None:
    """Build the tenant-wide pack of ``month``, keep it sealed and, on schedule, e-mail the
    subscribers; None when the schedule already made this month's pack."""
    if trigger == "schedule":
        async with tenant_session(tenant, runtime.databases) as session:
            if await scheduled_made(session, month):
                return None  # checked first: building a pack of a large tenant takes seconds
    pack = await build_pack(runtime, tenant, month, None, masked=False)
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant, runtime.databases) as session:
        run = await keep_pack(session, codec, pack, trigger, requested_by)
        if run is not None and trigger == "schedule":
            await tell_subscribers(session, run, pack_link(base_url, tenant, run))
    return run


def previous_month(today: date) -> date:
    return add_months(today.replace(day=1), -1)
