"""Reconciliations as jobs (arq): idempotent by job id, progress in the tenant's jobs table."""

from __future__ import annotations

from datetime import date
from typing import Any

from tierline.inventory.reconciliation.service import RECONCILIATION_JOB, reconcile_in_force
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.tenancy import tenant_session


@job_handler(RECONCILIATION_JOB)
async def reconciliation_job(run: JobRun) -> dict[str, Any]:
    """Reconcile the run in force with the ERP's parameters; a retry finds its result."""
    assert run.tenant is not None
    params = run.params
    actor = Actor(params["actor"], params.get("actor_kind", "user"), params.get("request_id"))
    runtime = run.runtime
    codec = await load_codec(run.tenant, kms_from_settings(runtime.settings), runtime.databases)
    await run.progress(0.1, "reading the run in force and the ERP's parameters")
    async with tenant_session(run.tenant, runtime.databases) as s:
        made = await reconcile_in_force(
            s, codec, actor, date.fromisoformat(params["as_of"]), job_id=run.job_id
        )
        result = {"reconciliation": made.id, "changes": int(made.counts.get("changes", 0))}
    await run.progress(1.0, f"reconciliation #{result['reconciliation']} kept")
    return result
