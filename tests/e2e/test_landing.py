"""A real browser renders the tenant landing page and the friendly 404 page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TenantFactory

pytestmark = pytest.mark.e2e


async def test_landing_page_renders_in_chromium(
    live_server: str, page: Any, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant("us", name="Initech Logistics")
    response = await page.goto(f"{live_server}/t/{tenant.slug}/")
    assert response.status == 200
    assert await page.locator("h1").inner_text() == "Initech Logistics"
    assert await page.locator(".badge").inner_text() == "us"
    assert await page.title() == "Initech Logistics · Tierline"
    # the stylesheet is served locally (no CDN) and applied
    color = await page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(255, 255, 255)"


async def test_unknown_tenant_shows_the_404_page(live_server: str, page: Any) -> None:
    response = await page.goto(f"{live_server}/t/not_a_tenant/")
    assert response.status == 404
    assert "404" in await page.locator("h1").inner_text()
    assert await page.get_by_text("Request id").count() == 1
