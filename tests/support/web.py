"""Talking to the app in-process: its lifespan, HTTP clients on the test's loop, forms."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from litestar import Litestar

from tests.support.builders import Staff

CSRF_INPUT = re.compile(r'name="_csrf" value="([^"]+)"')

# app -> (clients and holders using it, the exit stack of its running lifespan)
_running: dict[Litestar, tuple[int, AsyncExitStack]] = {}
_starting = asyncio.Lock()  # the session's one event loop; a second user waits for start-up


@asynccontextmanager
async def asgi_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Drive the ASGI lifespan protocol from one background task (startup and shutdown must
    happen in the same task, and fixtures set up and tear down in different ones)."""
    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))  # type: ignore[arg-type]
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """``app``'s lifespan, started by its first user and ended with its last: every client of
    one app shares one lifespan (the session's app keeps its own running throughout)."""
    async with _starting:
        users, stack = _running.get(app) or (0, AsyncExitStack())
        if users == 0:
            await stack.enter_async_context(asgi_lifespan(app))
        _running[app] = (users + 1, stack)
    try:
        yield
    finally:
        async with _starting:
            users, stack = _running[app]
            if users == 1:
                del _running[app]
                await stack.aclose()
            else:
                _running[app] = (users - 1, stack)


@asynccontextmanager
async def http_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that runs ``app`` (and its lifespan, unless it runs already) on the
    test's own event loop, so the app shares the session's engines. Litestar's test client
    would run it in another loop."""
    async with running(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, staff: Staff) -> httpx.Response:
    """Sign in through the real login form (CSRF cookie and field included)."""
    page = await client.get(f"/t/{staff.tenant.slug}/login")
    return await client.post(
        f"/t/{staff.tenant.slug}/login",
        data={"email": staff.email, "password": staff.password, "_csrf": csrf_of(page.text)},
    )
