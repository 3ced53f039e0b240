"""/metrics: Prometheus figures for the operator, not for the public."""

from __future__ import annotations

from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import OPERATOR_TOKEN, StaffFactory, sign_in
from tierline.platform.jobs import JobRun, get_tenant_job, job_handler, submit_tenant_job
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


@job_handler("tests.metrics_probe")
async def metrics_probe(run: JobRun) -> dict[str, str]:
    return {"ok": "yes"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_need_the_token(client: AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_requests_jobs_pools_queue_and_caches_are_measured(
    client: AsyncClient, runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant, "admin")
    await sign_in(client, admin)
    for _ in range(3):
        assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 200
    job = await submit_tenant_job(runtime, tenant, "tests.metrics_probe", {}, key="m")
    await execute_job(runtime, tenant.slug, job["id"])
    assert (await get_tenant_job(runtime, tenant, job["id"]))["status"] == "succeeded"

    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    route = (("method", "GET"), ("route", "/t/{tenant}/admin/users"), ("status", "200"))
    assert found[("tierline_http_requests_total", route)] >= 3
    latency = (("method", "GET"), ("route", "/t/{tenant}/admin/users"))
    assert found[("tierline_http_request_duration_seconds_count", latency)] >= 3
    assert (
        found[("tierline_jobs_total", (("kind", "tests.metrics_probe"), ("outcome", "succeeded")))]
        >= 1
    )
    assert ("tierline_job_queue_depth", ()) in found
    assert ("tierline_db_pool_size", (("database", "control"),)) in found
    assert ("tierline_db_pool_connections_in_use", (("database", "eu"),)) in found
    assert ("tierline_email_outbox_backlog", (("region", "eu"),)) in found
    hits = found[
        ("tierline_cache_lookups_total", (("cache", "tenant_directory"), ("result", "hit")))
    ]
    assert hits >= 1
    # no tenant data, no user, no token in the figures: only templates and counts
    assert tenant.slug not in scraped.text and admin.email not in scraped.text
