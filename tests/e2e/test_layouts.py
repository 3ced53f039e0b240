"""Every staff page a signed-in admin can open, on a laptop (1,366 px) and a phone (390 px): no
sideways scrolling, no broken content security policy, no error page. The pages are found in
the app's own route table (every GET page under ``/t/{tenant}`` without other path parameters)
plus detail pages reached by following the first link of their list; the demo tenant supplies
real data (schemes with history, entitlements, imports). Screenshots go to ``$LAYOUT_SHOTS``
when it is set, to be looked at."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM_FLAGS
from tierline.demo.steps import prepare_demo
from tierline.demo.tenants import demo_email
from tierline.platform.settings import Settings

pytestmark = pytest.mark.e2e

SLUG = "acme_eu"
WIDTHS = (1366, 390)
# Pages reached through a list: (list page, link pattern to its first detail page).
DETAILS = (
    ("customers", r"/t/acme_eu/customers/[^\"'?#]+"),
    ("products", r"/t/acme_eu/products/[^\"'?#]+"),
    ("segments", r"/t/acme_eu/segments/schemes/[a-z0-9_]+"),
    ("segments", r"/t/acme_eu/segments/runs/[0-9a-f-]{36}"),
    ("imports", r"/t/acme_eu/imports/[0-9a-f-]{36}"),
    ("inventory", r"/t/acme_eu/inventory/policies/[A-Za-z0-9_-]+"),
    ("inventory", r"/t/acme_eu/inventory/runs/[0-9a-f-]{36}"),
    ("inventory/results", r"/t/acme_eu/inventory/results/[^\"'?#/]+/[^\"'?#/]+"),
)


def staff_pages(app_routes: list[tuple[str, set[str]]]) -> list[str]:
    """The staff pages without path parameters beyond the tenant."""
    pages = []
    for path, methods in app_routes:
        if "GET" not in methods or not path.startswith("/t/{tenant:str}"):
            continue
        rest = path.removeprefix("/t/{tenant:str}")
        if "{" in rest or rest.endswith((".csv", ".xlsx", ".pdf")):
            continue
        if rest in ("/login", "/logout", "/password/forgot", "/sso/login", "/sso/callback"):
            continue  # sign-in flow endpoints, not pages of a signed-in user
        pages.append(rest or "/")
    return sorted(set(pages))


async def _overflow(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# Tables marked ``kpi-stacked`` (KPI tables, the ERP reconciliation) turn into one card per row
# on a phone: their wrapper must not scroll sideways either.
STACKED_OVERFLOW = """Math.max(0, ...Array.from(document.querySelectorAll('table.kpi-stacked'),
    t => (t.closest('.table-wrap') || t).scrollWidth - (t.closest('.table-wrap') || t).clientWidth))"""


async def test_every_staff_page_fits_a_laptop_and_a_phone(
    live_server: str, chromium: str, settings: Settings, app: Any
) -> None:
    from playwright.async_api import async_playwright

    lines = await prepare_demo(settings, live_server)
    password = next(
        m.group(1) for line in lines if (m := re.search(r"\[bold\](demo-[^\[]+)\[/bold\]", line))
    )
    routes = [(r.path, set(r.methods)) for r in app.routes if hasattr(r, "methods")]
    pages = staff_pages(routes)
    assert len(pages) >= 25, pages
    shots = Path(os.environ["LAYOUT_SHOTS"]) if os.environ.get("LAYOUT_SHOTS") else None
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        for width in WIDTHS:
            context = await browser.new_context(viewport={"width": width, "height": 900})
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda m, found=console: found.append(m.text))
            await page.goto(f"{live_server}/t/{SLUG}/login")
            await page.get_by_label("E-mail").fill(demo_email("admin", SLUG))
            await page.get_by_label("Password").fill(password)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{live_server}/t/{SLUG}/")
            urls = [f"/t/{SLUG}{p}" for p in pages]
            for list_page, pattern in DETAILS:
                response = await page.goto(f"{live_server}/t/{SLUG}/{list_page}")
                found = re.search(pattern, await page.content())
                if found:
                    urls.append(found.group(0))
            for url in urls:
                console.clear()
                response = await page.goto(f"{live_server}{url}")
                status = response.status if response else 0
                if status >= 400:
                    problems.append(f"{width}px {url}: status {status}")
                    continue
                overflow = await _overflow(page)
                if overflow > 1:
                    problems.append(f"{width}px {url}: scrolls sideways by {overflow}px")
                stacked = int(await page.evaluate(STACKED_OVERFLOW))
                if width < 700 and stacked > 1:
                    problems.append(f"{width}px {url}: a stacked table scrolls by {stacked}px")
                csp = [m for m in console if "Content Security Policy" in m]
                if csp:
                    problems.append(f"{width}px {url}: {csp[0][:120]}")
                if shots is not None:
                    name = re.sub(r"[^a-z0-9]+", "_", url.lower()).strip("_")
                    await page.screenshot(path=str(shots / f"{width}_{name}.png"), full_page=True)
            await context.close()
        await browser.close()
    assert problems == [], "\n".join(problems)
