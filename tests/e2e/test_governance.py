"""The governance loop in headless Chromium: a planner requests an override, an approver
approves it in the approval queue, and the customer sees the notice in the portal. The queue
fits a laptop (1,366 px) and a phone (390 px), links its entities and selects all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffFactory, TenantFactory
from tests.e2e.layout import assert_no_sideways_scroll, screenshot_dir
from tests.governance.contract_moves import build_held_moves, move_status
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


async def _queue_checks(page: Any, slug: str, where: str) -> None:
    await assert_no_sideways_scroll(page, where)
    width = await page.evaluate("window.innerWidth")
    # every cell, the decision columns included, is on screen
    rights = await page.eval_on_selector_all(
        "table.gov-queue tbody td, table.gov-queue tbody th",
        "cells => cells.map(c => c.getBoundingClientRect().right)",
    )
    assert rights and max(rights) <= width, (where, max(rights), width)
    # the only checkboxes in the queue are the items to decide (segments show round dots)
    assert await page.locator("table.gov-queue input[type=checkbox]").count() == 3
    assert await page.locator("table.gov-queue .gov-seg svg circle").count() == 6
    # entities link to their pages
    assert await page.locator(f'table.gov-queue a[href="/t/{slug}/customers/C03"]').count() == 1


async def test_approval_queue_on_a_laptop_and_a_phone(
    live_server: str,
    page: Any,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
    tmp_path: Path,
) -> None:
    shots = screenshot_dir(tmp_path)
    held = await build_held_moves(await make_tenant(name="Corvo Group"))
    slug = held.tenant.slug
    staff = f"{live_server}/t/{slug}"
    approver = await make_staff(held.tenant, "approver")
    await page.set_viewport_size({"width": 1366, "height": 900})
    await _sign_in(page, f"{staff}/login", approver.email, approver.password)
    await page.wait_for_url(f"{staff}/")
    await page.goto(f"{staff}/approvals")
    await page.screenshot(path=str(shots / "approvals-1366.png"), full_page=True)
    await _queue_checks(page, slug, "approvals at 1366")

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{staff}/approvals")
    await page.screenshot(path=str(shots / "approvals-390.png"), full_page=True)
    await _queue_checks(page, slug, "approvals at 390")

    # select all, then approve without acknowledging the contract conflict: the two other
    # moves are applied, the one below C03's contract is refused and stays
    boxes = page.locator("table.gov-queue input[type=checkbox]")
    assert await boxes.evaluate_all("bs => bs.filter(b => b.checked).length") == 0
    await page.get_by_role("link", name="Select all 3 you may decide").click()
    await page.wait_for_load_state()
    assert await boxes.evaluate_all("bs => bs.every(b => b.checked)")
    await page.screenshot(path=str(shots / "approvals-390-selected.png"), full_page=True)
    await page.locator("#decision-reason").fill("Reviewed with the account teams")
    await page.get_by_role("button", name="Approve ticked items").click()
    await page.wait_for_load_state()
    refused = await page.locator("section", has_text="Refused").inner_text()
    assert f"move:{held.contract}" in refused and "contract K-C03" in refused
    await assert_no_sideways_scroll(page, "approvals at 390, after the decision")
    await page.screenshot(path=str(shots / "approvals-390-refused.png"), full_page=True)
    assert await move_status(held.tenant, held.contract) == "pending"
    assert await move_status(held.tenant, held.jump) == "applied"
    assert await move_status(held.tenant, held.spike) == "applied"
