"""Policy runs as jobs (arq): idempotent by job id, progress in the tenant's jobs table."""

from __future__ import annotations

from datetime import date
from typing import Any

from tierline.inventory.runs import RUN_JOB, run_policy
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, job_handler


@job_handler(RUN_JOB)
async def policy_run_job(run: JobRun) -> dict[str, Any]:
    """A policy run as a job; a retry finds the run its first attempt wrote."""
    assert run.tenant is not None
    params = run.params
    actor = Actor(params["actor"], params.get("actor_kind", "user"), params.get("request_id"))
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    outcome = await run_policy(
        run.runtime,
        run.tenant,
        params["policy"],
        actor=actor,
        as_of=as_of,
        trigger=params.get("trigger", "manual"),
        job_id=run.job_id,
        progress=run.progress,
    )
    await run.progress(1.0, f"run {outcome.status}")
    return outcome.as_dict()
