"""The review of false positives in headless Chromium: reached from the dashboard, each
spike-driven move with its verdict and service before and after, fitting a laptop (1,366 px)
and a phone (390 px). Screenshots go to ``E2E_SCREENSHOTS`` to be looked at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffFactory
from tests.e2e.layout import assert_no_sideways_scroll, screenshot_dir
from tests.monitoring.builders import build_world, spike_moves
from tierline.monitoring.refresh import refresh
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

pytestmark = pytest.mark.e2e


async def test_the_review_is_reached_from_the_dashboard_and_fits_both_widths(
    live_server: str,
    page: Any,
    runtime: Runtime,
    tenant: TenantRef,
    make_staff: StaffFactory,
    tmp_path: Path,
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    await spike_moves(runtime, world)
    planner = await make_staff(tenant, "planner", email="planner@example.com")
    staff = f"{live_server}/t/{tenant.slug}"
    shots = screenshot_dir(tmp_path)

    await page.set_viewport_size({"width": 1366, "height": 900})
    await page.goto(f"{staff}/login")
    await page.get_by_label("E-mail").fill(planner.email)
    await page.get_by_label("Password").fill(planner.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{staff}/")
    await page.get_by_role("link", name="Review of false positives").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="Review of false positives").count() == 1
    rows = page.locator("table.md-table tbody tr")
    assert await rows.count() == 2
    assert await rows.first.get_by_text("kept").count() == 1
    for width, height in ((1366, 900), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(f"{staff}/performance/false-positives")
        await assert_no_sideways_scroll(page, f"false positives at {width} px")
        await page.screenshot(path=str(shots / f"false-positives-{width}.png"), full_page=True)
