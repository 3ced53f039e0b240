"""The analytics pages in headless Chromium at 1,366 and 390 px: no sideways scrolling, the
charts drawn with their text alternatives, masked money for an analyst. Screenshots are kept
(``E2E_SCREENSHOTS``) to be looked at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.analytics.conftest import build_commercial
from tests.conftest import StaffFactory, TenantFactory
from tests.e2e.layout import assert_no_sideways_scroll, screenshot_dir
from tierline.platform.runtime import Runtime

pytestmark = pytest.mark.e2e

PAGES = (
    ("cost-to-serve", "cost-to-serve?first=2026-01&last=2026-03"),
    ("cohorts", "cohorts?month=2026-02"),
    ("settings", "settings"),
    ("impact", "impact"),
    ("pricing", "pricing"),
)


async def _sign_in(page: Any, url: str, email: str, password: str) -> None:
    await page.goto(url)
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("role", ["planner", "analyst"])
async def test_analytics_pages_fit_and_draw_their_charts(
    live_server: str,
    page: Any,
    runtime: Runtime,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
    role: str,
    tmp_path: Path,
) -> None:
    tenant = await make_tenant(name="Commercial Co")
    await build_commercial(runtime, tenant)
    user = await make_staff(tenant, role)
    base = f"{live_server}/t/{tenant.slug}"
    await _sign_in(page, f"{base}/login", user.email, user.password)
    await page.wait_for_url(f"{base}/")
    shots = screenshot_dir(tmp_path)
    for width in (1366, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        for name, path in PAGES:
            response = await page.goto(f"{base}/analytics/{path}")
            assert response.status == 200, (name, width)
            await assert_no_sideways_scroll(page, f"{name} at {width}px as {role}")
            await page.screenshot(
                path=str(shots / f"analytics-{name}-{role}-{width}.png"), full_page=True
            )
        await page.goto(f"{base}/analytics/cost-to-serve?first=2026-01&last=2026-03")
        charts = await page.locator("svg.an-chart").count()
        if role == "planner":
            assert charts == 2  # per segment and the whale curve, each with title and desc
            assert await page.locator("svg.an-chart desc").count() == 2
        else:
            assert charts == 0 and await page.get_by_text("Money figures are masked").count() == 1
