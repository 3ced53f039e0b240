"""The web app: health, readiness, problem details, error pages, request ids, permissions."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient
from litestar import Litestar, get

from tests.conftest import StaffFactory, http_client, sign_in, unique_slug
from tierline.platform.access import PUBLIC, PUBLIC_PREFIXES, declared_permission, requires
from tierline.platform.app import create_app
from tierline.platform.databases import Databases, ServiceEndpoints
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef


async def test_health_and_ready(client: AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["components"]) == {"control", "region:eu", "region:us", "redis"}


async def test_ready_names_the_region_that_is_down(runtime: Runtime, settings: Settings) -> None:
    endpoints = ServiceEndpoints(
        runtime.endpoints.control_url,
        {**runtime.endpoints.regions, "ap": "postgresql+asyncpg://u:p@127.0.0.1:9/x"},
        runtime.endpoints.redis_url,
    )
    degraded = Runtime(settings, endpoints, Databases.from_endpoints(endpoints, pool_size=1))
    try:
        async with http_client(create_app(settings, runtime=degraded)) as c:
            resp = await c.get("/ready")
    finally:
        await degraded.databases.dispose()
    # One region down does not take the process out of rotation: the others keep being served.
    assert resp.status_code == 200 and resp.json()["status"] == "degraded"
    components = resp.json()["components"]
    assert components["region:ap"]["status"] == "unavailable"
    assert components["region:eu"]["status"] == "ok"


async def test_tenant_home_needs_sign_in(client: AsyncClient, tenant: TenantRef) -> None:
    resp = await client.get(f"/t/{tenant.slug}/", headers={"accept": "text/html"})
    assert resp.status_code == 303
    assert resp.headers["location"].startswith(f"/t/{tenant.slug}/login?next=/t/{tenant.slug}")


async def test_tenant_home_after_sign_in(
    client: AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant, "admin")
    assert (await sign_in(client, admin)).status_code == 303
    resp = await client.get(f"/t/{tenant.slug}/")
    assert resp.status_code == 200
    assert tenant.name in resp.text and "text/html" in resp.headers["content-type"]
    assert "Users &amp; roles" in resp.text


async def test_unknown_tenant_is_a_friendly_404_page(client: AsyncClient) -> None:
    resp = await client.get("/t/no_such_tenant/", headers={"accept": "text/html"})
    assert resp.status_code == 404
    assert "<h1>404" in resp.text and "Traceback" not in resp.text


async def test_api_errors_are_problem_details(client: AsyncClient) -> None:
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == 404 and body["instance"] == "/api/v1/nothing-here"
    assert body["request_id"] == resp.headers["x-request-id"]


async def test_unexpected_errors_never_show_a_stack_trace(
    runtime: Runtime, settings: Settings
) -> None:
    @get("/api/v1/explode", guards=[requires(PUBLIC)])
    async def explode() -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    app = create_app(settings, runtime=runtime, extra_routes=[explode])
    async with http_client(app) as c:
        resp = await c.get("/api/v1/explode")
    assert resp.status_code == 500
    assert "hunter2" not in resp.text and "Traceback" not in resp.text
    assert resp.json()["request_id"]


async def test_request_id_is_kept_when_well_formed(client: AsyncClient) -> None:
    resp = await client.get("/health", headers={"x-request-id": "abc12345-trace"})
    assert resp.headers["x-request-id"] == "abc12345-trace"
    hostile = await client.get("/health", headers={"x-request-id": "<script>x</script>"})
    assert hostile.headers["x-request-id"] != "<script>x</script>"


async def test_openapi_is_served_at_schema(client: AsyncClient) -> None:
    doc = (await client.get("/schema")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/tenants" in doc["paths"] and "/ready" in doc["paths"]


def test_every_route_declares_its_permission(app: Litestar) -> None:
    missing = []
    for route in app.routes:
        if route.path.startswith(PUBLIC_PREFIXES):
            continue
        for handler in getattr(route, "route_handlers", []):
            if handler.http_methods == {"OPTIONS"} and handler.handler_name == "options_handler":
                continue  # Litestar's automatic OPTIONS answer: an Allow header, no data
            if declared_permission(handler) is None:
                missing.append(f"{route.path} {getattr(handler, 'http_methods', '')}")
    assert not missing, f"routes without a declared permission: {missing}"


async def test_operator_provisions_a_tenant_asynchronously(
    client: AsyncClient, operator_headers: dict[str, str], runtime: Runtime
) -> None:
    from tierline.platform.jobs.worker import execute_job

    slug = unique_slug("api")
    resp = await client.post(
        "/api/v1/tenants",
        json={"slug": slug, "name": "Via API", "region": "us"},
        headers=operator_headers,
    )
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["status"] == "queued" and job["kind"] == "tenants.provision"
    await execute_job(runtime, None, job["id"])  # what the worker does with it
    status = await client.get(f"/api/v1/tenants/jobs/{job['id']}", headers=operator_headers)
    assert status.json()["status"] == "succeeded" and status.json()["progress"] == 1.0
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:  # every tenant of the session, page by page
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page_ = (
            await client.get("/api/v1/tenants", params=params, headers=operator_headers)
        ).json()
        listed += page_["items"]
        cursor = page_["next_cursor"]
        if cursor is None:
            break
    assert [t["slug"] for t in listed] == sorted({t["slug"] for t in listed})
    assert {"slug": slug, "region": "us", "status": "active"}.items() <= next(
        t for t in listed if t["slug"] == slug
    ).items()
    page = await client.get(f"/t/{slug}/login")
    assert page.status_code == 200 and "Via API" in page.text


async def test_operator_api_bad_input(
    client: AsyncClient, operator_headers: dict[str, str], tenant: TenantRef
) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"slug": "Bad-Slug", "name": "x", "region": "eu"}, 422, "invalid tenant slug"),
        ({"slug": unique_slug(), "name": "x", "region": "mars"}, 422, "unknown region"),
        ({"slug": unique_slug(), "name": "   ", "region": "eu"}, 422, "must not be empty"),
        ({"slug": tenant.slug, "name": "x", "region": "eu"}, 409, "already exists"),
        ({"slug": unique_slug(), "region": "eu"}, 422, "name"),
        ({"slug": unique_slug(), "name": "x", "region": "eu", "extra": 1}, 422, "extra"),
    ]
    for body, status, fragment in cases:
        resp = await client.post("/api/v1/tenants", json=body, headers=operator_headers)
        assert resp.status_code == status, (body, resp.text)
        assert fragment in resp.json()["detail"], (body, resp.json())
    oversize = await client.post(
        "/api/v1/tenants",
        content=b"{" + b" " * (30 * 1024 * 1024) + b"}",
        headers={**operator_headers, "content-type": "application/json"},
    )
    assert oversize.status_code == 413


async def test_operator_api_needs_the_operator_token(client: AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        resp = await client.get("/api/v1/tenants", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["title"] == "Unauthorized"


async def test_concurrent_requests_each_see_their_own_tenant(
    app: Litestar, make_tenant: Any, make_staff: StaffFactory
) -> None:
    tenants = [await make_tenant(name=f"Tenant number {i}") for i in range(3)]
    async with http_client(app) as c0, http_client(app) as c1, http_client(app) as c2:
        clients = [c0, c1, c2]
        for c, t in zip(clients, tenants, strict=True):
            await sign_in(c, await make_staff(t, "planner"))

        async def fetch(i: int) -> None:
            t, c = tenants[i % 3], clients[i % 3]
            resp = await c.get(f"/t/{t.slug}/")
            assert resp.status_code == 200 and t.name in resp.text
            for other in tenants:
                if other is not t:
                    assert other.name not in resp.text
                    # a session of one tenant never opens another tenant's pages
                    assert (await c.get(f"/t/{other.slug}/")).status_code == 404

        await asyncio.gather(*(fetch(i) for i in range(60)))


async def test_the_front_door_finds_a_workspace(client: AsyncClient, tenant: TenantRef) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "Workspace name" in page.text
    found = await client.get("/", params={"workspace": f"  {tenant.slug.upper()} "})
    assert found.status_code == 303 and found.headers["location"] == f"/t/{tenant.slug}/"
    for unknown in ("no_such_workspace", "../etc", "x" * 300):
        missing = await client.get("/", params={"workspace": unknown})
        assert missing.status_code == 404 and "no workspace called" in missing.text
        assert "etc/passwd" not in missing.text


async def test_head_answers_like_get_without_a_body(client: AsyncClient, tenant: TenantRef) -> None:
    for url in ("/", f"/t/{tenant.slug}/login", "/health", "/static/tierline.css"):
        got, head = await client.get(url), await client.head(url)
        assert head.status_code == got.status_code == 200, url
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert (await client.head(f"/t/{tenant.slug}/")).status_code == 303  # sign in first
    assert (await client.head("/t/not_a_tenant/login")).status_code == 404


async def test_there_is_a_favicon(client: AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert (await client.get("/static/favicon.svg")).status_code == 200
    page = await client.get("/")
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
    # htmx must not inject its indicator styles inline (the CSP allows no inline style)
    assert '"includeIndicatorStyles": false' in page.text
