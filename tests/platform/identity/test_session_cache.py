"""The in-process session cache stays exact: a session ended anywhere (sign-out in another
process, "end all sessions" from a process without a cache, a stalled or disconnected
listener) stops working at the very next request in every process, with no polling."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.conftest import StaffFactory, TenantFactory, csrf_of, http_client
from tests.portal.fixtures import PortalData, build_portal_tenant
from tests.portal.test_portal import portal_sign_in
from tierline.platform.app import create_app
from tierline.platform.identity import sessions as sessions_module
from tierline.platform.identity.session_cache import LEASE, SessionCache
from tierline.platform.identity.sessions import SessionStore, _key
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings

API = "/api/v1/portal/entitlements"
LIVE_WITHIN = 10.0


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Acme Supply"))


@pytest.fixture
async def two_apps(
    app: Litestar, settings: Settings, runtime: Runtime
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Litestar, Litestar]]:
    """Two app instances (two web processes, each with its own caches) on one Redis."""
    other = create_app(settings, runtime=runtime)
    async with http_client(app) as a, http_client(other) as b:
        for instance in (app, other):
            await asyncio.wait_for(instance.state.session_cache.wait_live(), LIVE_WITHIN)
        yield a, b, app, other


async def _cache(runtime: Runtime) -> AsyncIterator[SessionCache]:
    cache = SessionCache()
    await cache.start(runtime.endpoints.redis_url)
    try:
        await asyncio.wait_for(cache.wait_live(), LIVE_WITHIN)
        yield cache
    finally:
        await cache.stop()


@pytest.fixture
async def cache(runtime: Runtime) -> AsyncIterator[SessionCache]:
    async for found in _cache(runtime):
        yield found


def _cookie(session_id: str) -> dict[str, str]:
    return {"cookie": f"tl_session={session_id}"}


@pytest.mark.own_app  # two fresh processes: it counts their caches' hits
async def test_sign_out_in_one_process_ends_the_session_in_another_at_once(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient, Litestar, Litestar],
    portal: PortalData,
    make_staff: StaffFactory,
) -> None:
    a, b, _app_a, app_b = two_apps
    user = await make_staff(portal.tenant, "customer", customer="P1")
    assert (await portal_sign_in(a, portal.tenant, user.email, user.password)).status_code == 303
    sid = a.cookies["tl_session"]
    cache_b: SessionCache = app_b.state.session_cache
    assert (await b.get(API, headers=_cookie(sid))).status_code == 200  # fills b's cache
    hits = cache_b.hits
    again = await b.get(API, headers=_cookie(sid))
    assert again.status_code == 200 and again.json()["account"]["code"] == "P1"
    assert cache_b.hits > hits, "the second request was not served from b's memory"

    home = await a.get(f"/portal/{portal.tenant.slug}/")
    out = await a.post(f"/portal/{portal.tenant.slug}/logout", data={"_csrf": csrf_of(home.text)})
    assert out.status_code == 303
    # At once, in the other process: no waiting, no polling.
    assert (await b.get(API, headers=_cookie(sid))).status_code == 401
    assert (await a.get(API, headers=_cookie(sid))).status_code == 401
    assert _key(sid) not in cache_b._entries


@pytest.mark.own_app  # two fresh processes: it counts their caches' hits
async def test_ending_all_sessions_from_a_process_without_a_cache(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient, Litestar, Litestar],
    portal: PortalData,
    make_staff: StaffFactory,
    runtime: Runtime,
) -> None:
    a, b, app_a, app_b = two_apps
    user = await make_staff(portal.tenant, "customer", customer="S1")
    assert (await portal_sign_in(a, portal.tenant, user.email, user.password)).status_code == 303
    sid = a.cookies["tl_session"]
    for client in (a, b, a, b):
        assert (await client.get(API, headers=_cookie(sid))).status_code == 200
    assert app_a.state.session_cache.hits and app_b.state.session_cache.hits
    # Like a CLI command or a job: a plain store on the shared Redis, no cache of its own.
    ended = await SessionStore(await runtime.redis()).end_all_for(portal.tenant.slug, user.user_id)
    assert ended == 1
    assert (await a.get(API, headers=_cookie(sid))).status_code == 401
    assert (await b.get(API, headers=_cookie(sid))).status_code == 401


class _Stalled(SessionCache):
    """A process that stops reading its revocations: it never drops them, never acknowledges."""

    async def _revoked(self, client: Any, payload: str) -> None:
        await asyncio.Event().wait()


async def test_a_stalled_process_stops_answering_before_the_revocation_returns(
    runtime: Runtime,
) -> None:
    stalled = _Stalled()
    await stalled.start(runtime.endpoints.redis_url)
    try:
        await asyncio.wait_for(stalled.wait_live(), LIVE_WITHIN)
        store = SessionStore(await runtime.redis())
        session = await store.create("acme", str(uuid.uuid4()), "customer", "password")
        assert await store.get(session.id, stalled) is not None
        assert stalled.lookup(_key(session.id)) is not None  # kept in memory
        started = time.monotonic()
        await store.delete(session.id)
        waited = time.monotonic() - started
        # No acknowledgement came: the revoker waited out the lease (and no longer) ...
        assert LEASE <= waited < LEASE + 2
        # ... after which the stalled cache cannot answer from memory any more.
        assert not stalled.live()
        assert stalled.lookup(_key(session.id)) is None
        assert await store.get(session.id, stalled) is None
    finally:
        await stalled.stop()


async def test_a_read_that_overtook_a_revocation_is_not_kept(
    cache: SessionCache, runtime: Runtime
) -> None:
    store = SessionStore(await runtime.redis())
    session = await store.create("acme", str(uuid.uuid4()), "staff", "password")
    key = _key(session.id)
    token = cache.token()  # a request starts reading Redis ...
    cache.drop([key])  # ... a revocation arrives meanwhile ...
    far = time.monotonic() + 60
    assert not cache.store(key, session, token, far, time.time() + 60)  # ... the read is void
    assert cache.lookup(key) is None
    assert cache.store(key, session, cache.token(), far, time.time() + 60)
    assert cache.lookup(key) is session


async def test_a_lost_subscription_empties_the_cache_until_it_is_back(
    cache: SessionCache, runtime: Runtime
) -> None:
    redis = await runtime.redis()
    store = SessionStore(redis)
    session = await store.create("acme", str(uuid.uuid4()), "staff", "password")
    assert await store.get(session.id, cache) is not None
    assert cache.lookup(_key(session.id)) is not None
    await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    deadline = time.monotonic() + LIVE_WITHIN
    while cache.live() or len(cache):
        assert time.monotonic() < deadline, "the cache kept answering without its listener"
        await asyncio.sleep(0.01)
    assert cache.lookup(_key(session.id)) is None
    await asyncio.wait_for(cache.wait_live(), LIVE_WITHIN)
    assert len(cache) == 0, "entries from before the reconnect survived it"
    assert await store.get(session.id, cache) is not None  # read from Redis again


async def test_timeouts_hold_with_the_cache(
    cache: SessionCache, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = await runtime.redis()
    # Idle timeout: an entry never outlives it.
    idle = SessionStore(redis, idle_seconds=1)
    session = await idle.create("acme", str(uuid.uuid4()), "staff", "password")
    assert await idle.get(session.id, cache) is not None
    assert await idle.get(session.id, cache) is not None and cache.hits
    await asyncio.sleep(1.3)
    assert await idle.get(session.id, cache) is None
    # Use keeps a session alive: the cache lets the touch through to Redis as before.
    monkeypatch.setattr(sessions_module, "_TOUCH_EVERY", 0.3)
    busy = SessionStore(redis, idle_seconds=1)
    session = await busy.create("acme", str(uuid.uuid4()), "staff", "password")
    until = time.monotonic() + 2.5
    while time.monotonic() < until:
        assert await busy.get(session.id, cache) is not None
        await asyncio.sleep(0.1)
    assert await SessionStore(redis, idle_seconds=1).get(session.id) is not None
    # Absolute timeout.
    short = SessionStore(redis, idle_seconds=60, absolute_seconds=1)
    session = await short.create("acme", str(uuid.uuid4()), "staff", "password")
    assert await short.get(session.id, cache) is not None
    await asyncio.sleep(1.2)
    assert await short.get(session.id, cache) is None


async def test_a_touch_racing_a_sign_out_does_not_bring_the_session_back(
    cache: SessionCache, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = await runtime.redis()
    store = SessionStore(redis)
    session = await store.create("acme", str(uuid.uuid4()), "staff", "password")
    key = _key(session.id)
    assert await store.get(session.id, cache) is not None
    # The sign-out's DEL lands just before the touch's write (its announcement comes later).
    await redis.delete(key)
    monkeypatch.setattr(sessions_module, "_TOUCH_EVERY", -1.0)  # every hit is due a touch
    assert await store.get(session.id, cache) is not None  # served; the touch runs beside it
    deadline = time.monotonic() + LIVE_WITHIN
    while cache.lookup(key) is not None:
        assert time.monotonic() < deadline, "the failed touch did not drop the entry"
        await asyncio.sleep(0.01)
    assert await redis.exists(key) == 0, "the touch recreated a deleted session"
    assert await store.get(session.id, cache) is None
    # Without a cache the same race is refused too.
    other = await store.create("acme", str(uuid.uuid4()), "staff", "password")
    raw = await redis.get(_key(other.id))
    await redis.delete(_key(other.id))
    assert await store._check(other.id, raw) is None
    assert await redis.exists(_key(other.id)) == 0
