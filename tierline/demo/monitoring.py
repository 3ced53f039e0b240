"""Demo service performance: the KPIs of the demo history computed in full, alerts evaluated,
and the escalation paths walked, so the demo tenants' home opens on live figures."""

from __future__ import annotations

from typing import Any

from tierline.monitoring.service import list_alerts, refresh
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: compute the KPIs and open the alerts the history calls for."""
    outcome = await refresh(runtime, tenant, full=True)
    async with tenant_session(tenant, runtime.databases) as s:
        walking = [a for a in await list_alerts(s, "open") if a.step_reached]
    return [
        f"{tenant.slug}: KPIs from {outcome.computed.lines:,} order lines in "
        f"{outcome.computed.seconds:.1f} s; {len(walking)} open alert(s) on an escalation path"
    ]
