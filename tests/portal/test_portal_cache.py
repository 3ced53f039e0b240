"""The portal cache stays exact: a change committed elsewhere shows on the next request once
its announcement arrived (polled, at most 2 s), a lost subscription switches the cache off and
leaves nothing stale behind, a change made outside Tierline shows within the entry lifetime,
and customers never see each other's cached entries."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import delete, select, text, update

from tests.conftest import StaffFactory, TenantFactory
from tests.portal.fixtures import ACTOR, SCHEME, PortalData, build_portal_tenant
from tests.portal.test_portal import portal_sign_in
from tierline.masterdata.models import Customer
from tierline.platform.identity.models import RoleGrant, User
from tierline.platform.runtime import Runtime, current_runtime
from tierline.platform.tenancy import tenant_session
from tierline.portal.cache import PortalCache
from tierline.segmentation.models import SegmentAssignment
from tierline.service_levels.entitlements import EntitlementInput, save_entitlement_version

API = "/api/v1/portal/entitlements"
NOTIFY_WITHIN = 2.0


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Acme Supply"))


@pytest.fixture
async def cache(app: Litestar, client: httpx.AsyncClient, portal: PortalData) -> PortalCache:
    found: PortalCache = app.state.portal_cache
    await asyncio.wait_for(found.wait_live(portal.tenant.region), 10)
    return found


@pytest.fixture
async def second_client(app: Litestar, client: httpx.AsyncClient) -> AsyncIterator[Any]:
    """Another browser on the same running app (its own cookie jar)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _as(
    client: httpx.AsyncClient, make_staff: StaffFactory, data: PortalData, code: str
) -> str:
    user = await make_staff(data.tenant, "customer", customer=code)
    assert (await portal_sign_in(client, data.tenant, user.email, user.password)).status_code == 303
    return user.user_id


async def _cached_get(client: httpx.AsyncClient, cache: PortalCache) -> dict[str, Any]:
    """Two reads: the first fills the cache, the second must be a hit with the same body."""
    first = await client.get(API)
    assert first.status_code == 200, first.text
    hits = cache.hits
    second = await client.get(API)
    assert second.status_code == 200
    assert cache.hits > hits, "the second read was not served from the cache"
    assert second.json() == first.json()
    body: dict[str, Any] = second.json()
    return body


async def _until(
    client: httpx.AsyncClient, done: Callable[[httpx.Response], bool], path: str = API
) -> httpx.Response:
    """Poll until ``done``; once it holds, the next reads must keep it (no stale comeback)."""
    deadline = time.monotonic() + NOTIFY_WITHIN
    while True:
        response = await client.get(path)
        if done(response):
            break
        assert time.monotonic() < deadline, f"change not visible after {NOTIFY_WITHIN}s"
        await asyncio.sleep(0.02)
    for _ in range(3):
        again = await client.get(path)
        assert done(again), "stale data came back after the change was visible"
    return response


def _below(body: dict[str, Any]) -> dict[str, list[str]]:
    return {a["code"]: [s["segment"] for s in a["segments"]] for a in body["accounts_below"]}


async def _move(data: PortalData, code: str, segment: str) -> None:
    now = datetime.now(UTC)
    async with tenant_session(data.tenant) as s:
        await s.execute(
            update(SegmentAssignment)
            .where(
                SegmentAssignment.customer_code == code,
                SegmentAssignment.scheme_code == SCHEME,
                SegmentAssignment.valid_to.is_(None),
            )
            .values(valid_to=now)
        )
        s.add(
            SegmentAssignment(
                scheme_code=SCHEME,
                entity_key=code,
                customer_code=code,
                segment=segment,
                valid_from=now,
                source="manual",
                reason="test move",
            )
        )


async def test_segment_move_shows_on_the_next_request(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, cache: PortalCache
) -> None:
    await _as(client, make_staff, portal, "P1")
    assert _below(await _cached_get(client, cache))["S1"] == ["B"]
    await _move(portal, "S1", "C")
    response = await _until(client, lambda r: _below(r.json()).get("S1") == ["C"])
    assert _below(response.json())["S2"] == ["B"]


async def test_ship_to_moved_away_leaves_the_reach(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    cache: PortalCache,
) -> None:
    await _as(client, make_staff, portal, "P1")
    await _as(second_client, make_staff, portal, "Q1")
    assert "S2" in _below(await _cached_get(client, cache))
    assert set(_below(await _cached_get(second_client, cache))) == {"Q1S"}
    ok = await client.get("/api/v1/portal/performance", params={"account": "S2"})
    assert ok.status_code == 200
    async with tenant_session(portal.tenant) as s:
        await s.execute(update(Customer).where(Customer.code == "S2").values(parent_code="Q1"))
    await _until(client, lambda r: set(_below(r.json())) == {"S1"})
    gone = await client.get("/api/v1/portal/performance", params={"account": "S2"})
    assert gone.status_code == 404
    await _until(second_client, lambda r: set(_below(r.json())) == {"Q1S", "S2"})


async def test_new_entitlement_version_shows(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, cache: PortalCache
) -> None:
    await _as(client, make_staff, portal, "P1")
    body = await _cached_get(client, cache)
    assert body["segments"][0]["entitlements"]["fill_rate_pct"] == pytest.approx(98.0)
    async with tenant_session(portal.tenant) as s:
        await save_entitlement_version(
            s,
            SCHEME,
            "A",
            EntitlementInput(
                effective_from=portal.today - timedelta(days=1),
                fill_rate_target=0.99,
                otif_target=0.97,
                perfect_order_target=0.95,
                cycle_service_level=0.95,
                quoted_lead_time_days=2,
                allocation_priority=1,
                picking_priority=1,
                taxonomy_code="GLOBAL-A",
                close_open_version=True,
            ),
            ACTOR,
        )

    def shows_new(r: httpx.Response) -> bool:
        ent = r.json()["segments"][0]["entitlements"]
        return bool(ent["fill_rate_pct"] == pytest.approx(99.0))

    await _until(client, shows_new)


async def test_disabled_user_and_revoked_grant_are_refused(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    cache: PortalCache,
) -> None:
    disabled = await _as(client, make_staff, portal, "P1")
    revoked = await _as(second_client, make_staff, portal, "P1")
    await _cached_get(client, cache)
    await _cached_get(second_client, cache)
    async with tenant_session(portal.tenant) as s:
        await s.execute(
            update(User).where(User.id == uuid.UUID(disabled)).values(status="disabled")
        )
    await _until(client, lambda r: r.status_code == 401)
    assert (await second_client.get(API)).status_code == 200
    async with tenant_session(portal.tenant) as s:
        await s.execute(delete(RoleGrant).where(RoleGrant.user_id == uuid.UUID(revoked)))
    await _until(second_client, lambda r: r.status_code in (403, 404))


@pytest.mark.own_app  # it cuts the app's listener
async def test_lost_listener_switches_the_cache_off(
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    cache: PortalCache,
    runtime: Runtime,
) -> None:
    region = portal.tenant.region
    await _as(client, make_staff, portal, "P1")
    await _cached_get(client, cache)
    name = cache.listener_name()
    assert name is not None
    redis = await runtime.redis()
    killed = 0
    for entry in await redis.client_list():
        if entry.get("name") == name:
            killed += await redis.client_kill_filter(_id=entry["id"])
    assert killed == 1
    deadline = time.monotonic() + NOTIFY_WITHIN
    while cache.is_live(region) and cache.listener_name() == name:
        assert time.monotonic() < deadline, "the lost listener was not noticed"
        await asyncio.sleep(0.005)
    # Off (or already resubscribed and cleared): a change made now shows at once, no polling.
    await _move(portal, "S1", "C")
    assert _below((await client.get(API)).json())["S1"] == ["C"]
    await asyncio.wait_for(cache.wait_live(region), 10)
    assert cache.listener_name() not in (None, name)
    body = await _cached_get(client, cache)
    assert _below(body)["S1"] == ["C"]
    await _move(portal, "S1", "A")
    await _until(client, lambda r: _below(r.json()).get("S1") == ["A"])


async def test_a_change_made_outside_tierline_shows_within_the_entry_lifetime(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, cache: PortalCache
) -> None:
    """A change nobody announced (SQL by hand) is served at most ``max_age`` seconds late."""
    await _as(client, make_staff, portal, "P1")
    await _cached_get(client, cache)
    engine = await current_runtime().databases.verified_region(portal.tenant.region)
    async with engine.begin() as conn:  # not the unit of work: no announcement
        await conn.execute(
            text(
                f"UPDATE \"{portal.tenant.schema}\".segment_assignments SET segment = 'C' "
                "WHERE customer_code = 'S1' AND valid_to IS NULL"
            )
        )
    cache._max_age = 0.2
    await asyncio.sleep(0.3)
    assert _below((await client.get(API)).json())["S1"] == ["C"]


async def test_every_write_through_the_unit_of_work_is_announced() -> None:
    from tierline.platform.changes import is_write

    for statement in (
        "INSERT INTO t VALUES (1)",
        "  update t set a = 1",
        "DELETE FROM t",
        "TRUNCATE t",
        "COPY t (a) FROM STDIN",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "/* c */ MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
        "ALTER TABLE t ADD COLUMN b int",
    ):
        assert is_write(statement), statement
    for statement in (
        "SELECT 1",
        "SELECT * FROM t FOR UPDATE",
        "COPY (SELECT 1) TO STDOUT",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SET LOCAL search_path TO t_x",
        "SELECT pg_advisory_xact_lock(1)",
    ):
        assert not is_write(statement), statement


async def test_customers_never_share_entries(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    cache: PortalCache,
) -> None:
    await _as(client, make_staff, portal, "P1")
    await _as(second_client, make_staff, portal, "Q1")
    for _ in range(3):
        mine = await _cached_get(client, cache)
        theirs = await _cached_get(second_client, cache)
        assert mine["account"]["code"] == "P1" and set(_below(mine)) == {"S1", "S2"}
        assert theirs["account"]["code"] == "Q1" and set(_below(theirs)) == {"Q1S"}
        assert "Pella" not in str(theirs) and "Quarto" not in str(mine)
    async with tenant_session(portal.tenant) as s:
        codes = (await s.execute(select(User.customer_code).where(User.kind == "customer"))).all()
    assert {c for (c,) in codes} == {"P1", "Q1"}
