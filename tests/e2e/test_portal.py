"""A customer signs in to the portal in headless Chromium, on a phone-sized screen, and sees
its segment and entitlements; the keyboard reaches the skip link first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StaffFactory, TenantFactory
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
    assert "98.0" in table and "GLOBAL-A" in table
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
