"""Simulations as jobs (arq): idempotent by job id, progress in the tenant's jobs table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tierline.inventory.simulations.service import SIMULATION_JOB, simulate_in_force
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.tenancy import tenant_session


@job_handler(SIMULATION_JOB)
async def simulation_job(run: JobRun) -> dict[str, Any]:
    """Replay the run in force against the ERP's parameters; a retry finds its simulation."""
    assert run.tenant is not None
    params = run.params
    actor = Actor(params["actor"], params.get("actor_kind", "user"), params.get("request_id"))
    await run.progress(0.1, "reading demand, lanes and parameters")
    async with tenant_session(run.tenant, run.runtime.databases) as s:
        done = await simulate_in_force(
            s,
            actor,
            datetime.now(UTC).date(),
            seed=int(params.get("seed", 7)),
            days=int(params.get("days", 364)),
            job_id=run.job_id,
        )
        result = {"simulation": done.id, "sku_locations": done.sku_locations}
    await run.progress(1.0, f"simulation #{result['simulation']} kept")
    return result
