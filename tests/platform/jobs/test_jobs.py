"""Jobs: deterministic ids, status and progress rows, retries after a crash, the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import pytest
from arq import Retry
from arq.worker import Worker
from sqlalchemy import text, update

from tierline.platform.databases import ServiceEndpoints
from tierline.platform.jobs import JobRun, get_tenant_job, job_handler, submit_tenant_job
from tierline.platform.jobs.models import TenantJob
from tierline.platform.jobs.service import job_id_for
from tierline.platform.jobs.store import JobStore
from tierline.platform.jobs.worker import execute_job, sweep_outbox, worker_kwargs
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

calls: dict[str, int] = {}


@job_handler("tests.count_to")
async def count_to(run: JobRun) -> dict[str, Any]:
    n = int(run.params["n"])
    for i in range(n):
        await run.progress((i + 1) / n, f"step {i + 1} of {n}")
    calls[run.job_id] = calls.get(run.job_id, 0) + 1
    return {"counted": n}


@job_handler("tests.flaky")
async def flaky(run: JobRun) -> dict[str, Any]:
    calls[run.job_id] = calls.get(run.job_id, 0) + 1
    if run.attempt == 1:
        raise ConnectionResetError("worker lost its database connection (simulated crash)")
    return {"attempt": run.attempt}


@job_handler("tests.refused")
async def refused(run: JobRun) -> dict[str, Any]:
    raise ValueError("the input names an unknown customer")


@job_handler("tests.broken_sql")
async def broken_sql(run: JobRun) -> dict[str, Any]:
    """Fails on every attempt with a database error that carries SQL, a schema and values."""
    async with tenant_session(run.tenant) as s:  # type: ignore[arg-type]
        await s.execute(text("SELECT secret_column FROM t_secret.hidden WHERE token = 'tok-123'"))
    return {}


async def run_worker_burst(runtime: Runtime) -> None:
    worker = Worker(
        **{
            **worker_kwargs(runtime, handle_signals=False),
            "burst": True,
            "poll_delay": 0.05,
            "cron_jobs": [],
        }
    )
    try:
        await asyncio.wait_for(worker.async_run(), timeout=60)
    finally:
        await worker.close()


async def test_job_runs_with_progress_on_a_real_worker(runtime: Runtime, tenant: TenantRef) -> None:
    row = await submit_tenant_job(runtime, tenant, "tests.count_to", {"n": 3}, key="a")
    assert row["status"] == "queued"
    await run_worker_burst(runtime)
    done = await get_tenant_job(runtime, tenant, row["id"])
    assert done["status"] == "succeeded"
    assert done["result"] == {"counted": 3}
    assert done["progress"] == 1.0 and done["attempts"] == 1


async def test_same_key_gives_one_job_and_a_finished_job_is_not_rerun(
    runtime: Runtime, tenant: TenantRef
) -> None:
    first = await submit_tenant_job(runtime, tenant, "tests.count_to", {"n": 1}, key="same")
    second = await submit_tenant_job(runtime, tenant, "tests.count_to", {"n": 1}, key="same")
    assert first["id"] == second["id"] == job_id_for("tests.count_to", tenant.slug, "same")
    await run_worker_burst(runtime)
    # arq may deliver a job twice; the second delivery finds it finished and does nothing
    assert await execute_job(runtime, tenant.slug, first["id"]) == "nothing to do"
    assert calls[first["id"]] == 1


async def test_crashed_attempt_is_retried_without_duplicate_results(
    runtime: Runtime, tenant: TenantRef
) -> None:
    row = await submit_tenant_job(runtime, tenant, "tests.flaky", {}, key="flaky")
    await run_worker_burst(runtime)
    done = await get_tenant_job(runtime, tenant, row["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2 and done["result"] == {"attempt": 2}
    assert calls[row["id"]] == 2


async def test_refusal_fails_at_once_with_its_reason(runtime: Runtime, tenant: TenantRef) -> None:
    row = await submit_tenant_job(runtime, tenant, "tests.refused", {}, key="r")
    await run_worker_burst(runtime)
    done = await get_tenant_job(runtime, tenant, row["id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "unknown customer" in done["error"] and done["error_code"] == "invalid_request"


async def test_failures_tell_clients_a_code_and_the_log_the_details(
    runtime: Runtime, tenant: TenantRef, caplog: pytest.LogCaptureFixture
) -> None:
    row = await submit_tenant_job(runtime, tenant, "tests.broken_sql", {}, key="sql")
    with caplog.at_level(logging.INFO, logger="tierline.platform.jobs.worker"):
        for _ in range(3):  # one delivery per attempt, as the retries come due
            with contextlib.suppress(Retry):
                await execute_job(runtime, tenant.slug, row["id"])
    done = await get_tenant_job(runtime, tenant, row["id"])
    assert done["status"] == "failed" and done["attempts"] == 3
    assert done["error_code"] == "internal_error"
    shown = json.dumps(done)
    for internal in ("SELECT", "t_secret", "tok-123", "secret_column", tenant.schema, "Error"):
        assert internal not in shown, internal
    assert row["id"] in done["error"]  # what to quote to support
    logged = "\n".join(r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in caplog.records)
    assert "t_secret" in logged and "job failed after 3 attempts" in logged


async def test_jobs_failed_before_codes_show_no_stored_text(
    runtime: Runtime, tenant: TenantRef
) -> None:
    row = await submit_tenant_job(runtime, tenant, "tests.count_to", {"n": 1}, key="legacy")
    async with tenant_session(tenant) as s:
        await s.execute(
            update(TenantJob)
            .where(TenantJob.id == row["id"])
            .values(status="failed", error="ProgrammingError: SELECT * FROM t_x.secret")
        )
    legacy = await get_tenant_job(runtime, tenant, row["id"])
    assert legacy["error_code"] == "unknown" and "SELECT" not in legacy["error"]


async def test_request_survives_a_redis_outage_through_the_outbox(
    runtime: Runtime, tenant: TenantRef
) -> None:
    down = Runtime(
        settings=runtime.settings,
        endpoints=ServiceEndpoints(
            runtime.endpoints.control_url, runtime.endpoints.regions, "redis://127.0.0.1:9/0"
        ),
        databases=runtime.databases,
    )
    row = await submit_tenant_job(down, tenant, "tests.count_to", {"n": 2}, key="outage")
    assert row["status"] == "queued"
    store = JobStore.for_scope(runtime, tenant)
    assert row["id"] in await store.unqueued(older_than_seconds=300)
    assert await sweep_outbox({"runtime": runtime}) >= 1
    await run_worker_burst(runtime)
    assert (await get_tenant_job(runtime, tenant, row["id"]))["status"] == "succeeded"


async def test_tenant_jobs_are_invisible_to_other_tenants(
    runtime: Runtime, make_tenant: Any
) -> None:
    from tierline.platform.jobs import JobNotFound

    a, b = await make_tenant(), await make_tenant()
    row = await submit_tenant_job(runtime, a, "tests.count_to", {"n": 1}, key="mine")
    with pytest.raises(JobNotFound):
        await get_tenant_job(runtime, b, row["id"])
    await run_worker_burst(runtime)


def test_every_worker_settings_attribute_is_a_real_arq_parameter() -> None:
    import inspect

    from tierline.platform.jobs.worker import WorkerSettings

    parameters = set(inspect.signature(Worker.__init__).parameters)
    declared = {k for k in vars(WorkerSettings) if not k.startswith("_")}
    assert declared, "WorkerSettings declares nothing"
    assert declared <= parameters, f"arq ignores: {declared - parameters}"
