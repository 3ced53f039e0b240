"""``tierline demo`` prepares everything a visitor needs, and a second run changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from tierline.demo.seeding import BOOK_SIZE
from tierline.demo.steps import prepare_demo
from tierline.demo.tenants import DEMO_TENANTS, demo_email
from tierline.inventory.reconciliation.models import ErpReconciliation
from tierline.inventory.simulations.models import InventorySimulation
from tierline.masterdata.network.models import ErpParameters, SourcingLane
from tierline.masterdata.service import customer_directory
from tierline.monitoring.service import list_alerts
from tierline.monitoring.service import state as kpi_state
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import tenant_session
from tierline.platform.tenant_directory import TenantDirectory
from tierline.segmentation.models import SegmentAssignment, SegmentationRun
from tierline.service_levels.models import EntitlementVersion


async def test_demo_has_schemes_with_history_entitlements_and_portal_logins(
    runtime: Runtime, settings: Settings
) -> None:
    lines = await prepare_demo(settings, "http://demo.test")
    text = "\n".join(lines)
    for slug, _name, _region in DEMO_TENANTS:
        assert f"http://demo.test/t/{slug}/" in text
        assert f"http://demo.test/portal/{slug}/" in text, text
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    for slug, _name, _region in DEMO_TENANTS:
        tenant = await directory.get(slug)
        async with tenant_session(tenant, runtime.databases) as s:
            runs = await s.scalar(select(func.count()).where(SegmentationRun.status == "succeeded"))
            schemes = await s.scalar(select(func.count(func.distinct(SegmentationRun.scheme_code))))
            closed = await s.scalar(
                select(func.count()).where(SegmentAssignment.valid_to.is_not(None))
            )
            entitlements = await s.scalar(select(func.count()).select_from(EntitlementVersion))
            lanes = await s.scalar(select(func.count()).select_from(SourcingLane))
            erp = await s.scalar(select(func.count()).select_from(ErpParameters))
            reconciled = (await s.scalars(select(ErpReconciliation))).all()
            simulated = (await s.scalars(select(InventorySimulation))).all()
        # a network, seeded ERP parameters, a reconciliation waiting for approval, a simulation
        assert lanes and erp, (slug, lanes, erp)
        assert [r.status for r in reconciled] == ["pending_approval"], slug
        assert len(simulated) == 1 and simulated[0].comparison, slug
        async with tenant_session(tenant, runtime.databases) as s:
            book = customer_directory()
            managed = await s.scalar(
                select(func.count()).where(
                    book.c.account_manager_email == demo_email("account_manager", slug)
                )
            )
        assert managed and managed >= BOOK_SIZE, managed  # the demo account manager has a book
        assert schemes == 3 and runs == 12, (slug, schemes, runs)
        assert closed and closed > 0  # the monthly runs moved some entities: a real timeline
        assert entitlements and entitlements > 0
        async with tenant_session(tenant, runtime.databases) as s:
            computed = await kpi_state(s)
            walking = [a for a in await list_alerts(s, "open") if a.step_reached >= 1]
        assert computed is not None and computed.seconds > 0  # live figures on the home page
        assert walking, slug  # at least one open alert walking its escalation path

    again = await prepare_demo(settings, "http://demo.test")  # idempotent, new password only
    # the inventory policy step says what it ran the first time only
    assert len(again) == len([x for x in lines if not x.startswith("inventory policy:")])
    for slug, _name, _region in DEMO_TENANTS:
        tenant = await directory.get(slug)
        async with tenant_session(tenant, runtime.databases) as s:
            runs = await s.scalar(select(func.count()).select_from(SegmentationRun))
            reconciliations = await s.scalar(select(func.count()).select_from(ErpReconciliation))
        assert runs == 12 and reconciliations == 1
