"""The portal API's fast paths keep every property of the slow ones: a warm entitlements
request touches neither PostgreSQL nor Redis, yet answers byte for byte what a cold one does,
with every security header; the guard still runs on every route; tenant look-ups and policy
engines are loaded once however many requests need them at the same moment."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import event

from tests.conftest import StaffFactory, TenantFactory, sign_in
from tests.portal.fixtures import PortalData, build_portal_tenant
from tests.portal.test_portal import portal_sign_in
from tierline.platform.identity import web
from tierline.platform.identity.session_cache import SessionCache
from tierline.platform.runtime import Runtime
from tierline.platform.tenant_directory import TenantDirectory
from tierline.policies import Grant
from tierline.portal.cache import PortalCache

API = "/api/v1/portal/entitlements"
LIVE_WITHIN = 10.0


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Acme Supply"))


@pytest.fixture
async def live(app: Litestar, client: httpx.AsyncClient, portal: PortalData) -> Litestar:
    """The app with its portal and session caches answering."""
    portal_cache: PortalCache = app.state.portal_cache
    sessions: SessionCache = app.state.session_cache
    await asyncio.wait_for(portal_cache.wait_live(portal.tenant.region), LIVE_WITHIN)
    await asyncio.wait_for(sessions.wait_live(), LIVE_WITHIN)
    return app


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement sent to the control and region databases while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = [runtime.databases.control, *runtime.databases.regions.values()]
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    for engine in engines:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _redis_reads(runtime: Runtime) -> int:
    """Session reads served by Redis so far (GET; the caches' listeners only PING)."""
    stats = await (await runtime.redis()).info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def test_a_warm_request_needs_no_database_and_no_redis(
    live: Litestar,
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    runtime: Runtime,
    statements: list[str],
) -> None:
    user = await make_staff(portal.tenant, "customer", customer="P1")
    assert (
        await portal_sign_in(client, portal.tenant, user.email, user.password)
    ).status_code == 303
    cold = await client.get(API)
    assert cold.status_code == 200
    statements.clear()
    reads = await _redis_reads(runtime)
    warm = [await client.get(API) for _ in range(5)]
    assert statements == [], "a warm request went to PostgreSQL"
    assert await _redis_reads(runtime) == reads, "a warm request read its session from Redis"
    for response in warm:
        assert response.status_code == 200
        assert response.content == cold.content  # the cached body is the computed one
        assert response.headers["content-type"] == "application/json"
        assert response.json()["account"]["code"] == "P1"
        assert "revenue" not in response.text and "margin" not in response.text


async def test_cached_answers_carry_every_security_header(
    live: Litestar, client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    user = await make_staff(portal.tenant, "customer", customer="S1")
    await portal_sign_in(client, portal.tenant, user.email, user.password)
    ids = set()
    for _ in range(3):
        response = await client.get(API)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["cache-control"] == "no-store"
        ids.add(headers["x-request-id"])
    assert len(ids) == 3  # one id per request
    kept = await client.get(API, headers={"X-Request-ID": "trace-0123456789"})
    assert kept.headers["x-request-id"] == "trace-0123456789"
    # A response that sets its own caching keeps it; the security headers are still added.
    css = await client.get(f"/portal/{portal.tenant.slug}/style.css")
    assert css.headers["cache-control"] == "private, max-age=300"
    assert css.headers["x-frame-options"] == "DENY"


async def test_the_guard_still_runs_on_every_request(
    live: Litestar,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
) -> None:
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    await portal_sign_in(client, portal.tenant, customer.email, customer.password)
    assert (await client.get(API)).status_code == 200
    assert (await client.get(API)).status_code == 200
    # The portal session never reaches staff pages, however warm its caches are.
    assert (await client.get(f"/t/{portal.tenant.slug}/customers")).status_code == 404
    # A staff session on the portal API: 404; nobody signed in: 401.
    staff = await make_staff(portal.tenant, "admin")
    await sign_in(browser, staff)
    assert (await browser.get(API)).status_code == 404
    async with httpx.AsyncClient(transport=client._transport, base_url="http://t") as anonymous:
        assert (await anonymous.get(API)).status_code == 401
    # Unsafe methods still need the CSRF token on a cached session.
    refused = await client.post(f"/portal/{portal.tenant.slug}/logout")
    assert refused.status_code == 403
    assert (await client.get(API)).status_code == 200


def test_guards_receive_the_handler_only_when_they_are_all_ours(app: Litestar) -> None:
    ours = other = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards = handler.resolve_guards()
            patched = "authorize_connection" in getattr(handler, "__dict__", {})
            if patched:
                ours += 1
                assert guards and all(getattr(g, "permission", None) for g in guards)
            elif guards and hasattr(handler, "__dict__"):
                other += 1
                assert not all(getattr(g, "permission", None) for g in guards)
    assert ours > 100


async def test_tenant_lookups_are_shared_and_refreshed_ahead(
    runtime: Runtime, make_tenant: TenantFactory, statements: list[str]
) -> None:
    tenant = await make_tenant()
    directory = TenantDirectory(runtime.databases, ttl_seconds=1.0)
    statements.clear()
    found = await asyncio.gather(*(directory.get(tenant.slug) for _ in range(20)))
    assert {t.id for t in found} == {tenant.id}
    assert len(statements) == 1, "twenty concurrent look-ups ran more than one query"
    first_expires = time.monotonic() + 1.0
    statements.clear()
    await directory.get(tenant.slug)
    assert statements == []  # fresh: from memory
    await asyncio.sleep(0.8)  # less than 30 % of the TTL left: re-read in the background
    refreshed_from = time.monotonic()
    started = time.monotonic()
    assert (await directory.get(tenant.slug)).id == tenant.id
    assert time.monotonic() - started < 0.05, "the request waited for the refresh"
    deadline = time.monotonic() + 5
    while len(statements) < 1:
        assert time.monotonic() < deadline, "no background refresh"
        await asyncio.sleep(0.01)
    assert len(statements) == 1
    await asyncio.sleep(max(0.0, first_expires + 0.05 - time.monotonic()))
    if time.monotonic() < refreshed_from + 1.0:  # the refreshed answer is still fresh
        statements.clear()
        await directory.get(tenant.slug)
        assert statements == [], "the first answer ran out although it had been refreshed"


async def test_a_suspended_tenant_is_refused_within_the_ttl(
    runtime: Runtime, make_tenant: TenantFactory
) -> None:
    from sqlalchemy import update

    from tierline.platform.control_plane import Tenant
    from tierline.platform.tenancy import TenantNotFound

    tenant = await make_tenant()
    directory = TenantDirectory(runtime.databases, ttl_seconds=0.5)
    await directory.get(tenant.slug)
    async with runtime.databases.control.begin() as conn:
        await conn.execute(update(Tenant).where(Tenant.id == tenant.id).values(status="suspended"))
    try:
        deadline = time.monotonic() + 0.5 + 1.0
        while True:
            try:
                await directory.get(tenant.slug)
            except TenantNotFound:
                break
            assert time.monotonic() < deadline, "a suspended tenant was served past the TTL"
            await asyncio.sleep(0.02)
    finally:
        async with runtime.databases.control.begin() as conn:
            await conn.execute(update(Tenant).where(Tenant.id == tenant.id).values(status="active"))


async def test_one_policy_engine_build_per_tenant_and_version() -> None:
    calls = 0

    async def grants() -> list[Grant]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return [Grant(str(uuid.uuid4()), "customer", "*")]

    tenant_id = str(uuid.uuid4())
    engines = await asyncio.gather(*(web._engine_at(tenant_id, 1, grants) for _ in range(25)))
    assert calls == 1 and len({id(e) for e in engines}) == 1
    again = await web._engine_at(tenant_id, 1, grants)
    assert again is engines[0] and calls == 1
    newer = await web._engine_at(tenant_id, 2, grants)
    assert newer is not engines[0] and calls == 2


async def test_an_abandoned_engine_build_is_taken_over() -> None:
    started = asyncio.Event()

    async def slow() -> list[Grant]:
        started.set()
        await asyncio.sleep(10)
        return []

    async def quick() -> list[Grant]:
        return [Grant(str(uuid.uuid4()), "customer", "*")]

    tenant_id = str(uuid.uuid4())
    first = asyncio.create_task(web._engine_at(tenant_id, 1, slow))
    await started.wait()
    waiter = asyncio.create_task(web._engine_at(tenant_id, 1, quick))
    await asyncio.sleep(0)
    first.cancel()
    engine = await asyncio.wait_for(waiter, 5)
    assert engine.version == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_portal_principals_are_reused_until_their_user_changes(
    live: Litestar,
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
) -> None:
    from sqlalchemy import update

    from tierline.platform.identity.models import User
    from tierline.platform.tenancy import tenant_session

    user = await make_staff(portal.tenant, "customer", customer="P1")
    await portal_sign_in(client, portal.tenant, user.email, user.password)
    cache: PortalCache = live.state.portal_cache
    assert (await client.get(API)).status_code == 200
    access = cache.lookup_principal(portal.tenant, user.user_id)
    assert access is not None
    first = access.last
    for _ in range(3):
        assert (await client.get(API)).status_code == 200
    assert cache.lookup_principal(portal.tenant, user.user_id) is access
    assert access.last is first and first.permissions == frozenset({"portal:self"})
    assert first.customer_code == "P1" and first.tenant == portal.tenant
    async with tenant_session(portal.tenant) as s:
        await s.execute(
            update(User).where(User.id == uuid.UUID(user.user_id)).values(status="disabled")
        )
    deadline = time.monotonic() + 2.0
    while (await client.get(API)).status_code != 401:
        assert time.monotonic() < deadline, "a disabled user kept its cached principal"
        await asyncio.sleep(0.02)


@pytest.mark.own_app  # it watches what the app's start-up does
async def test_an_embedded_app_leaves_the_collector_alone(
    app: Litestar, portal: PortalData
) -> None:
    from tests.conftest import http_client

    frozen = gc.get_freeze_count()
    async with http_client(app):
        pass
    assert gc.get_freeze_count() == frozen  # only a serving process settles its heap
