"""The governance loop in headless Chromium: a planner requests an override, an approver
approves it in the approval queue, and the customer sees the notice in the portal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StaffFactory, TenantFactory
from tests.portal.fixtures import SCHEME, build_portal_tenant

pytestmark = pytest.mark.e2e


async def _sign_in(page: Any, url: str, email: str, password: str) -> None:
    await page.goto(url)
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_override_requested_approved_and_noticed_by_the_customer(
    live_server: str, page: Any, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    data = await build_portal_tenant(await make_tenant(name="Quarto Group"))
    slug = data.tenant.slug
    staff = f"{live_server}/t/{slug}"
    planner = await make_staff(data.tenant, "planner")
    approver = await make_staff(data.tenant, "approver")
    customer = await make_staff(data.tenant, "customer", customer="Q1")

    # The planner asks for Quarto Trading (segment C) to be served as B.
    await _sign_in(page, f"{staff}/login", planner.email, planner.password)
    await page.wait_for_url(f"{staff}/")
    await page.goto(f"{staff}/overrides/new?scheme={SCHEME}&entity=Q1")
    await page.get_by_label("Move to segment").select_option("B")
    await page.get_by_label("Reason (required)").fill("New framework agreement signed")
    await page.get_by_role("button", name="Request override").click()
    await page.wait_for_load_state()
    # The requester cannot decide their own request: no checkbox for it.
    await page.goto(f"{staff}/approvals")
    assert await page.get_by_text("New framework agreement signed").count() == 1
    assert await page.locator('input[name="item"][value^="override:"]').count() == 0
    await page.get_by_role("button", name="Sign out").click()

    # The governance board approves it with a reason.
    await _sign_in(page, f"{staff}/login", approver.email, approver.password)
    await page.wait_for_url(f"{staff}/")
    await page.goto(f"{staff}/approvals")
    await page.locator('input[name="item"][value^="override:"]').check()
    await page.locator("#decision-reason").fill("Agreement verified by the board")
    await page.get_by_role("button", name="Approve ticked items").click()
    await page.wait_for_load_state()
    assert await page.locator('input[name="item"][value^="override:"]').count() == 0
    await page.get_by_role("button", name="Sign out").click()

    # The customer sees its new segment and the notice.
    await _sign_in(page, f"{live_server}/portal/{slug}/login", customer.email, customer.password)
    await page.wait_for_url(f"{live_server}/portal/{slug}/")
    assert "B customers" in await page.locator("section.segment").first.inner_text()
    await page.get_by_role("link", name="Notices", exact=True).click()
    await page.wait_for_url(f"{live_server}/portal/{slug}/notices")
    notices = await page.locator("main").inner_text()
    assert "B customers" in notices and "C customers" in notices
    assert "Agreement verified" not in notices  # internal decision reasons stay internal
