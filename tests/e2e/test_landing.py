"""A real browser signs in, lands on the tenant home, signs out; unknown tenants get a 404 page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StaffFactory, TenantFactory

pytestmark = pytest.mark.e2e


async def test_sign_in_and_out_in_chromium(
    live_server: str, page: Any, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    tenant = await make_tenant("us", name="Initech Logistics")
    admin = await make_staff(tenant, "admin")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await page.goto(f"{live_server}/")
    await page.get_by_label("Workspace name").fill(tenant.slug)
    await page.get_by_role("button", name="Continue").click()
    assert page.url.startswith(f"{live_server}/t/{tenant.slug}/login")
    assert await page.locator("h1").inner_text() == "Sign in to Initech Logistics"

    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    assert "E-mail or password is incorrect" in await page.locator(".alert").inner_text()

    await page.get_by_label("Password").fill(admin.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live_server}/t/{tenant.slug}/")
    assert await page.locator("h1").inner_text() == "Initech Logistics"
    assert await page.locator(".badge").first.inner_text() == "us"
    assert await page.get_by_role("link", name="Users & roles").count() >= 1
    # the stylesheet is served locally (no CDN) and applied
    color = await page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(255, 255, 255)"

    # nothing on these pages breaks the content security policy (htmx's inline styles did)
    assert not [m for m in console if "Content Security Policy" in m], console

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{live_server}/t/{tenant.slug}/login")
    await page.goto(f"{live_server}/t/{tenant.slug}/")
    assert "/login" in page.url


async def test_unknown_tenant_shows_the_404_page(live_server: str, page: Any) -> None:
    response = await page.goto(f"{live_server}/t/not_a_tenant/")
    assert response.status == 404
    assert "404" in await page.locator("h1").inner_text()
    assert await page.get_by_text("Request id").count() == 1
