"""Service performance in headless Chromium: the staff home opens on the dashboard with its
charts (axes, legend, targets, text alternative), a heat-map cell drills down to product lines,
then to a product, then to its order lines with the factors; and the pages fit a laptop
(1,366 px) and a phone (390 px). Screenshots go to ``E2E_SCREENSHOTS`` to be looked at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffFactory
from tests.e2e.layout import assert_no_sideways_scroll, screenshot_dir
from tests.monitoring.builders import build_world
from tierline.monitoring.refresh import refresh
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

pytestmark = pytest.mark.e2e


async def test_the_dashboard_renders_its_charts_and_drills_down_to_order_lines(
    live_server: str,
    page: Any,
    runtime: Runtime,
    tenant: TenantRef,
    make_staff: StaffFactory,
    tmp_path: Path,
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    planner = await make_staff(tenant, "planner", email="planner@example.com")
    staff = f"{live_server}/t/{tenant.slug}"
    shots = screenshot_dir(tmp_path)

    await page.set_viewport_size({"width": 1366, "height": 900})
    await page.goto(f"{staff}/login")
    await page.get_by_label("E-mail").fill(planner.email)
    await page.get_by_label("Password").fill(planner.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{staff}/")

    # the home is the dashboard: two charts with axes, a legend with the target, a text
    # alternative naming the figures, heat maps and the escalation addressed to this planner
    charts = page.locator("svg.kpi-chart")
    assert await charts.count() == 2
    title = await charts.first.locator("title#trend-t").text_content()
    assert title and "A:" in title and "target" in title
    assert await charts.first.locator("polyline.kpi-target").count() >= 1
    assert await charts.first.locator("text.axis").count() >= 4
    assert await page.locator(".kpi-legend").first.get_by_text("target in force").count() == 1
    assert await page.get_by_role("heading", name="Escalations addressed to you").count() == 1
    await page.screenshot(path=str(shots / "home-dashboard-1366.png"), full_page=True)

    # drill: segment A in the north -> product lines -> widgets -> P1's order lines
    await page.locator("table.kpi-heat").first.locator("td.heat-miss a").first.click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="By product line").count() == 1
    await (
        page.locator("#b-product_line").locator("..").locator("a", has_text="widgets").first.click()
    )
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="By product").count() == 1
    await page.get_by_role("link", name="P1", exact=True).first.click()
    await page.wait_for_load_state()
    lines = page.get_by_role("heading", name="Order lines")
    assert await lines.count() == 1
    assert await page.locator("td.md-wrap", has_text="late").count() >= 1
    await page.screenshot(path=str(shots / "drill-lines-1366.png"), full_page=True)
    await assert_no_sideways_scroll(page, "drill-down at 1366 px")

    for path, name in (
        ("/performance", "dashboard"),
        ("/performance/alerts", "alerts"),
        ("/performance/drill?kpi=otif&segment=A&region=north", "drill"),
    ):
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{staff}{path}")
        await assert_no_sideways_scroll(page, f"{name} at 390 px")
        await page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
        await page.set_viewport_size({"width": 1366, "height": 900})
        await page.goto(f"{staff}{path}")
        await assert_no_sideways_scroll(page, f"{name} at 1366 px")
        await page.screenshot(path=str(shots / f"{name}-1366.png"), full_page=True)
