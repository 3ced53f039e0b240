"""The arq worker: one entry point that runs any registered job kind for any tenant.

arq may run a job more than once, so ``run_job`` claims the row first and skips a job that
has already finished; handlers write their effects in one transaction guarded by a unique key.
Job arguments are plain strings (tenant slug, job id); parameters come from the job row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import structlog
from arq import Retry, cron
from arq.connections import RedisSettings
from arq.worker import func

from tierline.platform import tracing
from tierline.platform.assembly import load_job_handlers
from tierline.platform.jobs.registry import Handler, JobRun, handler_for, periodic_tasks
from tierline.platform.jobs.service import ENTRYPOINT, enqueue
from tierline.platform.jobs.store import JobStore
from tierline.platform.metrics import observe_job
from tierline.platform.runtime import Runtime, build_runtime, install_runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAYS = (2, 10, 30)
SWEEP_AFTER_SECONDS = 300


async def _tenant(runtime: Runtime, slug: str | None) -> TenantRef | None:
    if slug is None:
        return None
    from tierline.platform.tenant_directory import TenantDirectory

    return await TenantDirectory(runtime.databases, ttl_seconds=0).get(slug)


async def execute_job(runtime: Runtime, tenant_slug: str | None, job_id: str) -> str:
    """Run one job by id; the outcome is written to its row. Raises ``Retry`` to try again."""
    try:
        tenant = await _tenant(runtime, tenant_slug)
    except TenantNotFound:
        log.warning("job %s dropped: tenant %s is gone", job_id, tenant_slug)
        return "tenant gone"
    store = JobStore.for_scope(runtime, tenant)
    row = await store.start(job_id)
    if row is None:
        return "nothing to do"
    handler = handler_for(row.kind)
    if handler is None:
        await store.finish(job_id, "failed", error=f"no handler for job kind '{row.kind}'")
        return "failed"

    async def sink(fraction: float, message: str) -> None:
        await store.progress(job_id, fraction, message)

    run = JobRun(runtime, job_id, row.kind, dict(row.params or {}), tenant, row.attempts, sink)
    bound = structlog.contextvars.bind_contextvars(
        job_id=job_id, job_kind=row.kind, tenant=tenant_slug or "-"
    )
    started = time.perf_counter()
    try:
        log.info("job started (attempt %s of %s)", row.attempts, MAX_ATTEMPTS)
        return await _run_handler(store, run, handler, started)
    except asyncio.CancelledError:
        # The worker is stopping and its grace period ran out: the handler's transaction rolled
        # back, so nothing of this attempt remains; the row goes back to the queue uncounted and
        # arq hands the job to the next worker.
        log.warning("job handed back: the worker stopped before it finished")
        await asyncio.shield(store.hand_back(job_id))
        raise
    finally:
        structlog.contextvars.reset_contextvars(**bound)


async def _run_handler(store: JobStore, run: JobRun, handler: Handler, started: float) -> str:
    """Run the handler and record its outcome. What clients read on the job names no internals
    (a stable code and a message for people); the exception itself goes to the log, with the
    job id and tenant the client can quote."""
    job_id = run.job_id
    try:
        result = await handler(run)
    except ValueError as exc:  # a refusal: retrying cannot help, and its text is for users
        observe_job(run.kind, "refused", time.perf_counter() - started)
        log.info("job refused: %s", exc)
        await store.finish(job_id, "failed", error=str(exc)[:2000], error_code=refusal_code(exc))
        return "failed"
    except Exception as exc:
        outcome = "retrying" if run.attempt < MAX_ATTEMPTS else "failed"
        observe_job(run.kind, outcome, time.perf_counter() - started)
        if run.attempt < MAX_ATTEMPTS:
            log.warning("job attempt %s failed; retrying", run.attempt, exc_info=True)
            message = f"a temporary failure; trying again (attempt {run.attempt} of {MAX_ATTEMPTS})"
            await store.finish(job_id, "queued", error=message, error_code="retrying")
            raise Retry(defer=RETRY_DELAYS[min(run.attempt, len(RETRY_DELAYS)) - 1]) from exc
        log.error("job failed after %s attempts", run.attempt, exc_info=True)
        message = (
            f"The job failed on our side after {run.attempt} attempts. "
            f"Quote job id {job_id} to support."
        )
        await store.finish(job_id, "failed", error=message, error_code="internal_error")
        return "failed"
    await store.finish(job_id, "succeeded", result=result)
    observe_job(run.kind, "succeeded", time.perf_counter() - started)
    log.info("job succeeded in %.2f s", time.perf_counter() - started)
    return "succeeded"


def refusal_code(exc: ValueError) -> str:
    """The stable code of a refusal: a domain error's own, else ``invalid_request``."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else "invalid_request"


async def run_job(ctx: dict[str, Any], tenant_slug: str | None, job_id: str) -> str:
    return await execute_job(ctx["runtime"], tenant_slug, job_id)


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Enqueue jobs whose rows were written while Redis was unreachable."""
    runtime: Runtime = ctx["runtime"]
    from tierline.platform.tenant_directory import list_tenants

    swept = 0
    scopes: list[TenantRef | None] = [None]
    for info in await list_tenants(runtime.databases):
        if info.status == "active":
            scopes.append(await _tenant(runtime, info.slug))
    for tenant in scopes:
        store = JobStore.for_scope(runtime, tenant)
        for job_id in await store.unqueued(SWEEP_AFTER_SECONDS):
            swept += await enqueue(runtime, store, job_id, tenant)
    return swept


async def _startup(ctx: dict[str, Any]) -> None:
    load_job_handlers()
    if "runtime" not in ctx:
        ctx["runtime"] = build_runtime()
        ctx["owns_runtime"] = True
        install_runtime(ctx["runtime"])
        runtime = ctx["runtime"]
        tracing.instrument_databases(runtime.databases, tracing.tracer_provider(runtime.settings))


async def _shutdown(ctx: dict[str, Any]) -> None:
    if ctx.get("owns_runtime"):
        await ctx["runtime"].close()


class WorkerSettings:
    """Read by ``arq`` (and by ``tierline worker``). Every attribute is a real arq parameter."""

    functions = [func(run_job, name=ENTRYPOINT, max_tries=MAX_ATTEMPTS + 1)]
    cron_jobs = [cron(sweep_outbox, minute=None, second=17, run_at_startup=True)]
    queue_name = "tierline:jobs"  # replaced by TIERLINE_QUEUE_NAME in worker_kwargs
    on_startup = _startup
    on_shutdown = _shutdown
    keep_result = 0
    job_timeout = 3600
    max_jobs = 8
    handle_signals = True
    # On SIGTERM: stop taking jobs, let running ones finish for this long, then hand the rest
    # back (replaced by TIERLINE_WORKER_GRACE_SECONDS in worker_kwargs).
    job_completion_wait = 25


def worker_kwargs(runtime: Runtime | None = None, handle_signals: bool = True) -> dict[str, Any]:
    """Arguments for ``arq.worker.Worker`` built from ``WorkerSettings`` and the runtime."""
    kwargs = {
        name: getattr(WorkerSettings, name)
        for name in vars(WorkerSettings)
        if not name.startswith("_")
    }
    kwargs["handle_signals"] = handle_signals
    load_job_handlers()  # domains register their periodic tasks next to their job handlers
    kwargs["cron_jobs"] = [
        *WorkerSettings.cron_jobs,
        *(
            cron(
                cast(Any, task.fn),
                minute=None if task.minute is None else set(task.minute),
                second=task.second,
            )
            for task in periodic_tasks()
        ),
    ]
    ctx: dict[str, Any] = {}
    if runtime is not None:
        ctx["runtime"] = runtime
        kwargs["redis_settings"] = RedisSettings.from_dsn(runtime.endpoints.redis_url)
        kwargs["queue_name"] = runtime.settings.queue_name
        kwargs["job_completion_wait"] = runtime.settings.worker_grace_seconds
    kwargs["ctx"] = ctx
    return kwargs
