"""Demo network work after the demo policy runs (``tierline demo``): a reconciliation of the
run in force against the seeded ERP parameters, submitted to the approval queue, and a
simulation of the run against them. Re-running adds nothing once the tenant has both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from tierline.inventory.reconciliation import service as reconciliation
from tierline.inventory.reconciliation.models import ErpReconciliation
from tierline.inventory.simulations import service as simulations
from tierline.inventory.simulations.models import InventorySimulation
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.errors import DomainError
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

DEMO_PLANNER = Actor("demo-planner", "system")


async def demo_step(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """Prints nothing (the demo's summary lists the workspaces); a tenant without a run in
    force (no published customer scheme) is left without, as the pages then explain."""
    today = datetime.now(UTC).date()
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant, runtime.databases) as s:
        if not await s.scalar(select(func.count()).select_from(ErpReconciliation)):
            try:
                made = await reconciliation.reconcile_in_force(s, codec, DEMO_PLANNER, today)
            except DomainError:
                return []
            if made.counts.get("changes"):
                await reconciliation.submit(s, made.id, DEMO_PLANNER, "demo change set")
    async with tenant_session(tenant, runtime.databases) as s:
        if not await s.scalar(select(func.count()).select_from(InventorySimulation)):
            try:
                await simulations.simulate_in_force(s, DEMO_PLANNER, today)
            except DomainError:
                return []
    return []
