"""Redis and PostgreSQL outages: 503s with a clear reason (never 500s), and recovery by itself,
the in-process job worker included."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import StaffFactory, TenantFactory, http_client, sign_in
from tierline.platform.app import create_app
from tierline.platform.databases import Databases
from tierline.platform.embedded import EmbeddedRedis
from tierline.platform.jobs import get_tenant_job, job_handler, submit_tenant_job
from tierline.platform.jobs.registry import JobRun
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef


@job_handler("tests.outage_probe")
async def outage_probe(run: JobRun) -> dict[str, str]:
    return {"ran": "yes"}


@pytest.fixture
async def own_redis(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedRedis]:
    # A short path keeps the socket path short; the server is this test's alone.
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")))
    await asyncio.to_thread(server.ensure_running)
    yield server
    await asyncio.to_thread(server.stop)


async def _until(check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


async def test_a_redis_outage_answers_503_and_everything_recovers_by_itself(
    runtime: Runtime,
    settings: Settings,
    tenant: TenantRef,
    make_staff: StaffFactory,
    own_redis: EmbeddedRedis,
) -> None:
    port = own_redis.running_port()
    assert port is not None
    endpoints = dataclasses.replace(runtime.endpoints, redis_url=own_redis.url(port))
    isolated = Runtime(settings=settings, endpoints=endpoints, databases=runtime.databases)
    app = create_app(settings, runtime=isolated, run_worker=True)
    planner = await make_staff(tenant, "planner")
    slug = tenant.slug
    async with http_client(app) as client:
        supervisor = app.state.worker_supervisor

        async def worker_running() -> bool:
            return bool(supervisor.health().running)

        await _until(worker_running, 20)
        assert (await sign_in(client, planner)).status_code == 303

        await asyncio.to_thread(own_redis.stop)
        page = await client.get(f"/t/{slug}/segments")
        assert page.status_code == 503, page.text
        assert "briefly unavailable" in page.text and "Traceback" not in page.text
        login = await client.get(f"/t/{slug}/login")
        client.cookies.set("tl_login_csrf", "x", path=f"/t/{slug}/")
        attempt = await client.post(
            f"/t/{slug}/login",
            data={"email": planner.email, "password": planner.password, "_csrf": "x"},
        )
        assert login.status_code == 200 and attempt.status_code == 503
        api = await client.get("/api/v1/notifications", headers={"Accept": "application/json"})
        assert api.status_code == 503 and api.json()["title"] == "Service unavailable"
        token = await client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"})
        assert token.status_code in (401, 503)  # unknown client: refused before or at Redis

        async def worker_down() -> bool:
            return not supervisor.health().running

        await _until(worker_down, 30)
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        components = ready.json()["components"]
        assert components["redis"]["status"] == components["worker"]["status"] == "unavailable"

        await asyncio.to_thread(own_redis.ensure_running)
        assert own_redis.running_port() == port  # back on the same address
        await _until(worker_running, 40)
        assert (await client.get("/ready")).status_code == 200
        again = await client.get(f"/t/{slug}/segments")
        assert again.status_code in (200, 303)  # served, or asked to sign in again
        job = await submit_tenant_job(isolated, tenant, "tests.outage_probe", {}, key="after")

        async def job_done() -> bool:
            found = await get_tenant_job(isolated, tenant, job["id"])
            return bool(found["status"] == "succeeded")

        await _until(job_done, 20)
    await isolated.close_queue()


async def test_a_region_database_down_answers_503_for_its_tenants_only(
    runtime: Runtime,
    settings: Settings,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    """A PostgreSQL server stopped or restarting refuses connections: its tenants get a clear
    503 problem while the other region's tenants keep working."""
    eu, us = await make_tenant("eu"), await make_tenant("us")
    us_admin = await make_staff(us, "admin")
    closed = _closed_port()
    down_url = runtime.databases.regions["eu"].url.set(port=closed)
    databases = Databases(
        control=runtime.databases.control,
        regions={
            "eu": create_async_engine(down_url, connect_args={"timeout": 2}),
            "us": runtime.databases.regions["us"],
        },
    )
    databases._verified.update({"eu", "us"})  # as after start-up, before the outage
    degraded = Runtime(settings=settings, endpoints=runtime.endpoints, databases=databases)
    app = create_app(settings, runtime=degraded)
    async with http_client(app) as client:
        refused = await client.get(f"/t/{eu.slug}/login")
        assert refused.status_code == 503 and "briefly unavailable" in refused.text
        assert refused.headers["retry-after"] == "5"
        api = await client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": f"{eu.slug}.x"},
        )
        assert api.status_code in (401, 503) and "Traceback" not in api.text
        assert (await sign_in(client, us_admin)).status_code == 303
        assert (await client.get(f"/t/{us.slug}/admin/users")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["components"]["region:eu"]["status"] == "unavailable"
    await databases.regions["eu"].dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
