"""Classification runs as jobs, and the rebalancing scheduler that starts them.

The scheduler looks, every few minutes, for published schemes whose ``next_run_at`` has come,
queues one run per due slot (the slot is part of the job id, so two workers or a repeated tick
queue it once) and moves ``next_run_at`` past it — also past freeze windows — in the same
transaction, so a refused run does not fire again on the next tick.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update

from tierline.platform.identity.users import SYSTEM, Actor
from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.jobs.registry import periodic
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_session
from tierline.segmentation.models import SegmentationScheme
from tierline.segmentation.runs.service import RUN_JOB, RunRefused, run_scheme, submit_run
from tierline.segmentation.schemes.document import next_run_after
from tierline.segmentation.schemes.store import published

log = logging.getLogger(__name__)


@job_handler(RUN_JOB)
async def run_job(run: JobRun) -> dict[str, Any]:
    """A run as a job. A refused run (its as-of date, its data) is recorded as a run and fails
    the job at once with the code ``run_refused``: retrying cannot change the answer."""
    assert run.tenant is not None
    params = run.params
    actor = Actor(params["actor"], params.get("actor_kind", "user"), params.get("request_id"))
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    outcome = await run_scheme(
        run.runtime,
        run.tenant,
        params["scheme"],
        actor=actor,
        as_of=as_of,
        trigger=params.get("trigger", "manual"),
        job_id=run.job_id,
        progress=run.progress,
    )
    if outcome.status == "refused":  # recorded with its reason; the job fails, no retry
        raise RunRefused(f"run refused: {outcome.message} (recorded as run {outcome.run_id})")
    await run.progress(1.0, f"run {outcome.status}")
    return outcome.as_dict()


async def schedule_tenant(runtime: Runtime, tenant: TenantRef, now: datetime) -> list[str]:
    """Queue the due runs of one tenant; the job ids queued."""
    async with tenant_session(tenant, runtime.databases) as session:
        due = (
            (
                await session.execute(
                    select(SegmentationScheme)
                    .where(
                        SegmentationScheme.published_version.is_not(None),
                        SegmentationScheme.next_run_at <= now,
                    )
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        slots = []
        for row in due:
            scheme = (await published(session, row.code)).scheme
            assert row.next_run_at is not None
            slots.append((row.code, row.next_run_at))
            await session.execute(
                update(SegmentationScheme)
                .where(SegmentationScheme.code == row.code)
                .values(next_run_at=next_run_after(scheme, max(now, row.next_run_at)))
            )
    queued = []
    for code, slot in slots:
        job = await submit_run(
            runtime, tenant, code, SYSTEM, trigger="schedule", slot=slot.isoformat()
        )
        queued.append(str(job["id"]))
    return queued


async def schedule_due_runs(runtime: Runtime, now: datetime | None = None) -> int:
    """Every active tenant in every region; how many runs were queued."""
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    now = now or datetime.now(UTC)
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    queued = 0
    for info in await list_tenants(runtime.databases):
        if info.status != "active":
            continue
        try:
            tenant = await directory.get(info.slug)
            queued += len(await schedule_tenant(runtime, tenant, now))
        except TenantNotFound:
            continue
        except Exception:  # one tenant's trouble must not stop the others' schedules
            log.exception("scheduling runs for tenant %s failed", info.slug)
    return queued


@periodic(second=23, minute={0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55})
async def schedule_segmentation(ctx: dict[str, Any]) -> int:
    """Every five minutes in the worker: queue the runs that are due."""
    return await schedule_due_runs(ctx["runtime"])
