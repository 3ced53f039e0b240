"""Every segmentation route: signed out -> sign-in redirect (pages) or 401 (API); a credential
without the route's permission -> 403; another tenant's principal -> 404, and the API shows
nothing of another tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.support.segmentation_builders import CODE, History, bearer, build_history
from tierline.governance import moves_controllers
from tierline.platform import access
from tierline.platform.identity.users import Actor
from tierline.platform.routing import declared_paths
from tierline.platform.tenancy import TenantRef
from tierline.segmentation.assignments import controllers as assignments
from tierline.segmentation.runs import controllers as runs
from tierline.segmentation.runs.service import submit_run
from tierline.segmentation.schemes import controllers as schemes

ALL_SCOPES = [
    "segments:read",
    "schemes:write",
    "segments:run",
    "overrides:approve",
    "overrides:approve_major",
    "jobs:read",
]


def routes() -> list[tuple[str, str, str]]:
    """(method, path template, permission) of every segmentation route."""
    found: list[tuple[str, str, str]] = []
    every = [*schemes.ROUTES, *runs.ROUTES, *assignments.ROUTES, *moves_controllers.ROUTES]
    for path, handler in declared_paths(every):
        permission = access.declared_permission(handler)
        assert permission, handler
        for method in handler.http_methods:
            found.append((str(method), path, permission))
    return found


def concrete(path: str, slug: str, run_id: str, job_id: str) -> str:
    return (
        path.replace("{tenant:str}", slug)
        .replace("{code:str}", CODE)
        .replace("{target:str}", f"{CODE}:dry-run")
        .replace("{run_id:str}", run_id)
        .replace("{job_id:str}", job_id)
    )


async def call(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    params = {"scheme": CODE, "customer": "C1"}
    if method in ("GET", "HEAD"):
        return await client.request(method, url, params=params, headers=headers)
    return await client.request(method, url, params=params, json={}, headers=headers)


@pytest.fixture
async def history(tenant: TenantRef) -> History:
    return await build_history(tenant)


async def _job_id(runtime: Any, tenant: TenantRef) -> str:
    job = await submit_run(runtime, tenant, CODE, Actor("planner@example.com"))
    return str(job["id"])


def test_every_route_declares_a_segmentation_permission() -> None:
    permissions = {p for _m, _p, p in routes()}
    assert permissions == {
        "segments:read",
        "schemes:write",
        "segments:run",
        "overrides:approve",
    }


async def test_signed_out_callers_are_sent_to_sign_in_or_refused(
    client: httpx.AsyncClient, runtime: Any, history: History
) -> None:
    slug, run_id = history.tenant.slug, str(history.run_id)
    job_id = await _job_id(runtime, history.tenant)
    for method, path, permission in routes():
        if permission == access.PUBLIC:
            continue
        url = concrete(path, slug, run_id, job_id)
        resp = await call(client, method, url)
        if url.startswith("/api/"):
            assert resp.status_code == 401, (method, url, resp.status_code)
        else:
            assert resp.status_code == 303, (method, url, resp.status_code)
            assert f"/t/{slug}/login" in resp.headers["location"]


async def test_credentials_without_the_permission_get_403(
    client: httpx.AsyncClient, runtime: Any, history: History, make_staff: StaffFactory
) -> None:
    slug, run_id = history.tenant.slug, str(history.run_id)
    job_id = await _job_id(runtime, history.tenant)
    headers = await bearer(client, history.tenant, ["masterdata:read"])
    for method, path, permission in routes():
        if permission == access.PUBLIC:
            continue
        url = concrete(path, slug, run_id, job_id)
        resp = await call(client, method, url, headers)
        assert resp.status_code == 403, (method, url, resp.status_code)
    # A data steward reads segments but may not write, run or decide.
    await sign_in(client, await make_staff(history.tenant, "data_steward"))
    csrf = csrf_of((await client.get(f"/t/{slug}/segments")).text)
    for method, path, permission in routes():
        if permission in (access.PUBLIC, "segments:read"):
            continue
        url = concrete(path, slug, run_id, job_id)
        resp = await call(client, method, url, {"X-CSRF-Token": csrf})
        assert resp.status_code == 403, (method, url, resp.status_code)
    # ... and a form without the CSRF token is refused before anything else.
    no_csrf = await client.post(f"/t/{slug}/segments/moves", data={"decision": "apply"})
    assert no_csrf.status_code == 403


async def test_another_tenants_principals_get_404_and_see_nothing(
    client: httpx.AsyncClient,
    runtime: Any,
    history: History,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    a = history.tenant
    b = await make_tenant()
    run_id = str(history.run_id)
    job_id = await _job_id(runtime, a)
    await sign_in(client, await make_staff(b, "admin"))
    csrf = csrf_of((await client.get(f"/t/{b.slug}/segments")).text)
    for method, path, permission in routes():
        if permission == access.PUBLIC or path.startswith("/api/"):
            continue
        url = concrete(path, a.slug, run_id, job_id)
        resp = await call(client, method, url, {"X-CSRF-Token": csrf})
        assert resp.status_code == 404, (method, url, resp.status_code)
        assert "Acme" not in resp.text
    # The API answers from the caller's own tenant: A's scheme, run, job and moves do not exist.
    headers = await bearer(client, b, ALL_SCOPES)
    client.cookies.clear()
    for url in (
        f"/api/v1/schemes/{CODE}",
        f"/api/v1/segment-runs/{run_id}",
        f"/api/v1/jobs/{job_id}",
        f"/t/{b.slug}/segments/runs/{run_id}",
        f"/t/{b.slug}/segments/jobs/{job_id}",
    ):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 404, (url, resp.status_code)
    for url in (
        "/api/v1/segments/assignments",
        "/api/v1/segments/assignments.csv",
        "/api/v1/segments/assignments.xlsx",
        "/api/v1/segments/writeback",
        "/api/v1/segments/conflicts",
    ):
        resp = await client.get(url, params={"scheme": CODE}, headers=headers)
        assert resp.status_code == 404, (url, resp.status_code)
    assert (await client.get("/api/v1/schemes", headers=headers)).json()["items"] == []
    assert (await client.get("/api/v1/segment-runs", headers=headers)).json()["items"] == []
    assert (await client.get("/api/v1/segments/moves", headers=headers)).json()["items"] == []
    timeline = await client.get(
        "/api/v1/segments/timeline", params={"customer": "C1"}, headers=headers
    )
    assert timeline.json()["items"] == []
    decided = await client.post(
        "/api/v1/segments/moves:decide",
        json={"ids": list(history.moves.values()), "decision": "reject", "reason": "mine"},
        headers=headers,
    )
    assert decided.status_code == 404
    run = await client.post("/api/v1/segment-runs", json={"scheme": CODE}, headers=headers)
    assert run.status_code == 404
    dry = await client.post(f"/api/v1/schemes/{CODE}:dry-run", json={}, headers=headers)
    assert dry.status_code == 404
    body_tenant = await client.post(
        "/api/v1/schemes",
        json={"template": "lightweight", "code": "from_b", "tenant": a.slug},
        headers=headers,
    )
    assert body_tenant.status_code == 201  # created in B, whatever the body says
    own = (await client.get("/api/v1/schemes", headers=headers)).json()["items"]
    assert [i["code"] for i in own] == ["from_b"]
    a_headers = await bearer(client, a, ["segments:read"])
    a_codes = [
        i["code"] for i in (await client.get("/api/v1/schemes", headers=a_headers)).json()["items"]
    ]
    assert a_codes == [CODE]


async def test_portal_users_never_reach_segmentation_pages(
    client: httpx.AsyncClient, history: History, make_staff: StaffFactory
) -> None:
    await sign_in(client, await make_staff(history.tenant, "customer", customer="C1"))
    for path in ("segments", f"segments/schemes/{CODE}", "segments/moves", "segments/assignments"):
        resp = await client.get(f"/t/{history.tenant.slug}/{path}")
        assert resp.status_code == 404, path
