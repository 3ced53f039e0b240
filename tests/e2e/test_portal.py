"""A customer signs in to the portal in headless Chromium, on a phone-sized screen, and sees
its segment and entitlements; the keyboard reaches the skip link first. Every portal page fits
a 390 px phone: no sideways scrolling, no table cut off, chart labels readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffFactory, TenantFactory
from tests.e2e.layout import (
    assert_no_sideways_scroll,
    assert_readable_charts,
    chart_labels,
    screenshot_dir,
)
from tests.portal.fixtures import build_portal_tenant

pytestmark = pytest.mark.e2e


async def test_customer_signs_in_and_sees_its_entitlements(
    live_server: str, page: Any, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    data = await build_portal_tenant(await make_tenant(name="Acme Supply"))
    slug = data.tenant.slug
    user = await make_staff(data.tenant, "customer", customer="P1")
    await page.set_viewport_size({"width": 375, "height": 800})

    await page.goto(f"{live_server}/portal/{slug}/")
    assert page.url.startswith(f"{live_server}/portal/{slug}/login")
    await page.get_by_label("E-mail").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/portal/{slug}/")

    assert await page.locator("h1").inner_text() == "Your service entitlements"
    segment = page.locator("section.segment").first
    assert "A customers" in await segment.inner_text()
    table = await segment.locator("table").inner_text()
    assert "Fill rate\t98%" in table and "Quoted lead time\t2 days" in table
    assert "GLOBAL-A" not in table  # the taxonomy code is the tenant's own business
    assert await page.get_by_text("Pella North").count() == 1
    assert await page.get_by_text("Quarto").count() == 0
    # branded header from the tenant's stylesheet (served locally, CSP-safe), no sideways scroll
    colour = await page.eval_on_selector(".pbar", "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(31, 78, 121)"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"

    await page.get_by_role("link", name="Performance", exact=True).click()
    await page.wait_for_url(f"{live_server}/portal/{slug}/performance")
    assert await page.locator("svg.pchart").count() == 4
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{live_server}/portal/{slug}/login")


PORTAL_PAGES = (
    ("entitlements", "/"),
    ("performance", "/performance"),
    ("performance-months", "/performance?grain=month&account=S1"),
    ("notices", "/notices"),
)


async def test_every_portal_page_fits_a_phone(
    live_server: str,
    page: Any,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
    tmp_path: Path,
) -> None:
    shots = screenshot_dir(tmp_path)
    data = await build_portal_tenant(await make_tenant(name="Acme Supply"))
    slug = data.tenant.slug
    user = await make_staff(data.tenant, "customer", customer="P1")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{live_server}/portal/{slug}/login")
    await page.get_by_label("E-mail").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/portal/{slug}/")
    for name, path in PORTAL_PAGES:
        await page.goto(f"{live_server}/portal/{slug}{path}")
        await page.screenshot(path=str(shots / f"portal-{name}-390.png"), full_page=True)
        await assert_no_sideways_scroll(page, path)
        if name.startswith("performance"):
            await assert_readable_charts(page, path)
            labels = [x["text"] for x in await chart_labels(page)]
            assert "100%" in labels and "50%" in labels and "0%" in labels
    # the figures: every value of a row is there, under its column's name
    await page.goto(f"{live_server}/portal/{slug}/performance")
    shown = await page.eval_on_selector_all(
        "table.pstacked tbody tr:first-child > *",
        "cells => cells.map(c => getComputedStyle(c, '::before').content + ' ' + c.innerText)",
    )
    assert shown[1] == '"Lines" 1' and shown[3].startswith('"Fill rate" '), shown
    # the same charts on a laptop: side by side, labels still readable
    await page.set_viewport_size({"width": 1366, "height": 900})
    await page.goto(f"{live_server}/portal/{slug}/performance")
    await page.screenshot(path=str(shots / "portal-performance-1366.png"), full_page=True)
    await assert_no_sideways_scroll(page, "/performance at 1366")
    await assert_readable_charts(page, "/performance at 1366")
