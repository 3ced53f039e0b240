"""Browser harness: the real server in a subprocess (``live_server``, tests/conftest.py),
driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Debian's chromium (see .ci/run)")
        pytest.skip("no Chromium on this machine: `apt-get install chromium` to run browser tests")
    return path


@pytest.fixture(scope="session")
async def chromium_browser(chromium: str) -> AsyncIterator[object]:
    """One headless Chromium for the session (launching one costs about a second)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(chromium_browser: Any) -> AsyncIterator[object]:
    """A page in a browser context of its own: no cookies or storage from another test."""
    context = await chromium_browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()
