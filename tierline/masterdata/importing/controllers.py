"""Import pages (upload with live progress, results, error reports) and the imports API."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_202_ACCEPTED

from tierline.masterdata.importing.entities import LOAD_ORDER
from tierline.masterdata.importing.models import Import
from tierline.masterdata.importing.records import (
    errors_csv,
    find_import,
    import_errors,
    recent_imports,
)
from tierline.masterdata.importing.schemas import ImportErrorOut, ImportOut
from tierline.masterdata.importing.uploads import ImportRefused, UploadTooLarge, submit_import
from tierline.masterdata.profiles.service import list_profiles
from tierline.platform.access import requires
from tierline.platform.downloads import csv_download
from tierline.platform.identity.principal import Principal
from tierline.platform.jobs import JobNotFound, get_tenant_job
from tierline.platform.jobs.schemas import JobOut, JobStartedOut, job_started
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session

# The hard cap Litestar enforces while reading the body; the configurable limit
# (TIERLINE_MAX_UPLOAD_BYTES) is checked while the upload streams to disk.
UPLOAD_HARD_CAP = 4 * 1024 * 1024 * 1024


@get(
    "/imports",
    guards=[requires("imports:run")],
    operation_id="importsPage",
)
async def imports_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    async with tenant_session(principal.tenant) as s:
        recent = await recent_imports(s)
        profiles = await list_profiles(s)
    return Template(
        "masterdata/imports.html",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "recent": recent,
            "entities": LOAD_ORDER,
            "profiles": profiles,
            "error": request.query_params.get("error"),
        },
    )


@post(
    "/imports",
    guards=[requires("imports:run")],
    operation_id="uploadImport",
    request_max_body_size=UPLOAD_HARD_CAP,
)
async def upload_import(
    principal: NamedDependency[Principal],
    state: State,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[Any]:
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        return Redirect(f"/t/{principal.tenant.slug}/imports?error=choose+a+file", status_code=303)  # type: ignore[return-value]
    try:
        job = await submit_import(
            state, principal, str(data.get("entity", "")), str(data.get("profile", "")), upload
        )
    except UploadTooLarge:
        raise
    except ImportRefused as exc:
        from urllib.parse import quote

        return Redirect(
            f"/t/{principal.tenant.slug}/imports?error={quote(str(exc))}", status_code=303
        )  # type: ignore[return-value]
    return Redirect(f"/t/{principal.tenant.slug}/imports/jobs/{job['id']}", status_code=303)  # type: ignore[return-value]


@get(
    "/imports/jobs/{job_id:str}",
    guards=[requires("imports:run")],
    operation_id="importJobPage",
)
async def import_job_page(
    principal: NamedDependency[Principal],
    job_id: FromPath[str],
    state: State,
    request: Request[Any, Any, Any],
) -> Template:
    try:
        job = await get_tenant_job(state.runtime, principal.tenant, job_id)
    except JobNotFound:
        raise NotFoundException() from None
    fragment = request.headers.get("hx-request") == "true"
    return Template(
        "masterdata/import_job_fragment.html" if fragment else "masterdata/import_job.html",
        context={"tenant": principal.tenant, "principal": principal, "job": job},
    )


async def _import_row(principal: Principal, import_id: str) -> Import:
    row = await find_import(principal.tenant, import_id)
    if row is None:
        raise NotFoundException()
    return row


@get(
    "/imports/{import_id:str}",
    guards=[requires("imports:run")],
    operation_id="importPage",
)
async def import_page(principal: NamedDependency[Principal], import_id: FromPath[str]) -> Template:
    row = await _import_row(principal, import_id)
    errors = await import_errors(principal.tenant, row.id, limit=200)
    return Template(
        "masterdata/import.html",
        context={"tenant": principal.tenant, "principal": principal, "imp": row, "errors": errors},
    )


@get(
    "/imports/{import_id:str}/errors.csv",
    guards=[requires("imports:run")],
    operation_id="importErrorsCsv",
)
async def import_errors_csv(
    principal: NamedDependency[Principal], import_id: FromPath[str]
) -> Response[bytes]:
    row = await _import_row(principal, import_id)
    body = errors_csv(await import_errors(principal.tenant, row.id))
    return csv_download(body, f"import-{row.id}-errors.csv")


@post(
    "/imports",
    guards=[requires("imports:run")],
    operation_id="createImport",
    status_code=HTTP_202_ACCEPTED,
    request_max_body_size=UPLOAD_HARD_CAP,
)
async def api_create_import(
    principal: NamedDependency[Principal],
    state: State,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> JobStartedOut:
    """Upload a file (multipart: ``entity``, optional ``profile``, ``file``); poll the job."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise ImportRefused("file: attach the file as multipart field 'file'")
    job = await submit_import(
        state, principal, str(data.get("entity", "")), data.get("profile"), upload
    )
    return job_started(job)


@get(
    "/jobs/{job_id:str}",
    guards=[requires("jobs:read")],
    operation_id="getJob",
)
async def api_job(
    principal: NamedDependency[Principal], job_id: FromPath[str], state: State
) -> JobOut:
    """A background job's status and progress (imports, runs, rebalancing...); ``result``
    once it succeeded, ``error`` and ``error_code`` once it failed."""
    try:
        return msgspec.convert(
            await get_tenant_job(state.runtime, principal.tenant, job_id), JobOut
        )
    except JobNotFound:
        raise NotFoundException() from None


@get(
    "/imports/{import_id:str}",
    guards=[requires("imports:run")],
    operation_id="getImport",
)
async def api_import(principal: NamedDependency[Principal], import_id: FromPath[str]) -> ImportOut:
    """An import's outcome: counts, and its first 1,000 row errors (``line``, ``column``,
    ``value``, ``reason``); ``failure_reason`` says why an import could not finish."""
    row = await _import_row(principal, import_id)
    errors = await import_errors(principal.tenant, row.id, limit=1000)
    return ImportOut(
        id=str(row.id),
        entity=row.entity,
        profile=row.profile,
        status=row.status,
        file_name=row.file_name,
        file_sha256=row.file_sha256 or None,  # empty while the file is being read
        total_rows=row.total_rows,
        inserted=row.inserted,
        updated=row.updated,
        unchanged=row.unchanged,
        to_steward=row.to_steward,
        error_count=row.error_count,
        failure_reason=row.failure_reason,
        errors=[ImportErrorOut(e.line, e.column_name, e.value, e.reason) for e in errors],
    )


ROUTES = [
    StaffPages(imports_page, upload_import, import_job_page, import_page, import_errors_csv),
    Api(api_create_import, api_job, api_import),
]
