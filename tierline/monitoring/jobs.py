"""KPI jobs: the update after an import (only the periods it touched), and the nightly tick
that brings every tenant's KPIs to the new day and evaluates the alerts on schedule.

Idempotent: a retried update recomputes the same periods into the same rows (one transaction,
serialised per tenant), and alert evaluation opens at most one live alert per rule.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.jobs.registry import periodic
from tierline.platform.jobs.service import submit_tenant_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef

KPI_UPDATE = "monitoring.kpis"
log = logging.getLogger(__name__)


async def queue_kpi_update(
    runtime: Runtime, tenant: TenantRef, *, since: datetime | None, key: str, full: bool = False
) -> dict[str, Any]:
    """Queue a KPI update (one job per ``key``: an import id, or a day for the nightly run)."""
    params = {"since": since.isoformat() if since else None, "full": full}
    return await submit_tenant_job(runtime, tenant, KPI_UPDATE, params, key)


@job_handler(KPI_UPDATE)
async def kpi_update_job(run: JobRun) -> dict[str, Any]:
    from tierline.monitoring.refresh import refresh

    assert run.tenant is not None
    since = run.params.get("since")
    outcome = await refresh(
        run.runtime,
        run.tenant,
        full=bool(run.params.get("full")),
        since=datetime.fromisoformat(since) if since else None,
    )
    await run.progress(1.0, outcome.summary())
    return outcome.as_dict()


async def refresh_all_tenants(runtime: Runtime) -> int:
    """Every active tenant: KPIs brought to today, alerts evaluated; how many tenants."""
    from tierline.monitoring.refresh import refresh
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    done = 0
    for info in await list_tenants(runtime.databases):
        if info.status != "active":
            continue
        try:
            await refresh(runtime, await directory.get(info.slug))
        except TenantNotFound:
            continue
        except Exception:  # one tenant's trouble must not stop the others' KPIs
            log.exception("KPI refresh of tenant %s failed", info.slug)
            continue
        done += 1
    return done


@periodic(second=17, minute={23})
async def refresh_kpis(ctx: dict[str, Any]) -> int:
    """Hourly in the worker: the day moves backorders on, and escalations walk with time."""
    return await refresh_all_tenants(ctx["runtime"])
