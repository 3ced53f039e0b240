"""Import jobs: the uploaded file waits in the tenant's import area until the worker runs it;
and the sweep that marks failed the imports a killed process left ``validating`` and removes
uploads whose import never finished."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from tierline.masterdata.importing.records import fail_interrupted
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.profiles.service import get_profile
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.jobs.registry import periodic
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, tenant_session

IMPORT = "masterdata.import"
log = logging.getLogger(__name__)


@job_handler(IMPORT)
async def import_job(run: JobRun) -> dict[str, Any]:
    assert run.tenant is not None
    params = run.params
    path = Path(params["path"])
    if not path.is_file():  # noqa: ASYNC240 - one stat
        raise ValueError("the uploaded file is gone (it is removed after its import ran)")
    async with tenant_session(run.tenant, run.runtime.databases) as s:
        profile = await get_profile(s, params.get("profile"), params["entity"])
    actor = Actor(params["actor"], params.get("actor_kind", "user"), params.get("request_id"))
    result = await run_import(
        run.runtime,
        run.tenant,
        params["entity"],
        path,
        profile,
        actor,
        file_name=params.get("file_name"),
        progress=run.progress,
        job_id=run.job_id,
    )
    path.unlink(missing_ok=True)  # noqa: ASYNC240 - one unlink
    return {
        "import_id": str(result.import_id),
        "status": result.status,
        "summary": result.summary(),
    }


# An upload waits only until its import runs (minutes); one whose import never finished (failed
# on every attempt) holds the customer's figures in clear on disk, so it goes after a day.
UPLOAD_MAX_AGE_SECONDS = 24 * 3600


def remove_stale_uploads(data_dir: Path, max_age_seconds: float = UPLOAD_MAX_AGE_SECONDS) -> int:
    """Delete uploads older than ``max_age_seconds`` from every tenant's import area; how many."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in (data_dir / "uploads").glob("*/*.upload"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # its import finished and removed it meanwhile
            continue
    return removed


async def sweep_interrupted_imports(runtime: Runtime) -> int:
    """Every active tenant in every region: imports whose process stopped are marked failed
    with the reason (see ``records.fail_interrupted``); how many."""
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    swept = 0
    for info in await list_tenants(runtime.databases):
        if info.status != "active":
            continue
        try:
            tenant = await directory.get(info.slug)
            failed = await fail_interrupted(tenant)
        except TenantNotFound:
            continue
        except Exception:  # one tenant's trouble must not stop the others' sweep
            log.exception("sweeping interrupted imports of tenant %s failed", info.slug)
            continue
        if failed:
            log.warning("tenant %s: interrupted imports marked failed: %s", info.slug, failed)
        swept += len(failed)
    return swept


@periodic(second=53, minute=set(range(0, 60, 5)))
async def sweep_imports(ctx: dict[str, Any]) -> int:
    """Every five minutes in the worker: interrupted imports, and uploads left over a day."""
    runtime: Runtime = ctx["runtime"]
    removed = await asyncio.to_thread(remove_stale_uploads, runtime.settings.data_dir)
    if removed:
        log.warning("removed %d upload(s) older than a day whose import never finished", removed)
    return await sweep_interrupted_imports(runtime)
