"""Import jobs: the uploaded file waits in the tenant's import area until the worker runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tierline.masterdata.importing.service import run_import
from tierline.masterdata.profiles.service import get_profile
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, job_handler
from tierline.platform.tenancy import tenant_session

IMPORT = "masterdata.import"


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
