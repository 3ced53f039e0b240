"""Import pages (upload with live progress, results, error reports) and the imports API."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy import select

from tierline.masterdata.entities import LOAD_ORDER
from tierline.masterdata.importing import import_errors
from tierline.masterdata.jobs import IMPORT, upload_dir
from tierline.masterdata.models import Import
from tierline.masterdata.profile_store import get_profile, list_profiles
from tierline.masterdata.profiles import ProfileError
from tierline.platform.access import requires
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.jobs import JobNotFound, get_tenant_job, submit_tenant_job
from tierline.platform.observability import current_request_id
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session

# The hard cap Litestar enforces while reading the body; the configurable limit
# (TIERLINE_MAX_UPLOAD_BYTES) is checked while the upload streams to disk.
UPLOAD_HARD_CAP = 4 * 1024 * 1024 * 1024


class ImportRefused(DomainError):
    status_code = 422
    title = "Import refused"


class UploadTooLarge(ImportRefused):
    status_code = 413
    title = "Upload too large"


async def save_upload(upload: UploadFile, target_dir: Path, limit: int) -> tuple[Path, int]:
    """Stream an upload to disk, refusing it past ``limit`` bytes."""
    path = target_dir / f"{uuid.uuid4().hex}.upload"
    size = 0
    with path.open("wb") as handle:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                handle.close()
                path.unlink(missing_ok=True)
                raise UploadTooLarge(
                    f"the file is larger than the {limit // (1024 * 1024)} MB limit"
                )
            handle.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ImportRefused("the file is empty")
    return path, size


async def submit_import(
    state: State,
    principal: Principal,
    entity_name: str,
    profile_name: str | None,
    upload: UploadFile,
) -> dict[str, Any]:
    if entity_name not in LOAD_ORDER:
        raise ImportRefused(f"entity: choose one of {', '.join(LOAD_ORDER)}")
    async with tenant_session(principal.tenant) as s:
        try:
            profile = await get_profile(s, profile_name or None, entity_name)
        except ProfileError as exc:
            raise ImportRefused(f"profile: {exc}") from None
    folder = upload_dir(state.settings.data_dir, principal.tenant.slug)
    path, _size = await save_upload(upload, folder, state.settings.max_upload_bytes)
    params = {
        "entity": entity_name,
        "profile": profile.name,
        "path": str(path),
        "file_name": (upload.filename or "upload")[:300],
        "actor": principal.display,
        "actor_kind": principal.actor_kind,
        "request_id": current_request_id(),
    }
    return await submit_tenant_job(
        state.runtime,
        principal.tenant,
        IMPORT,
        params,
        key=secrets.token_hex(8),
        created_by=principal.display,
    )


@get(
    "/imports",
    guards=[requires("imports:run")],
    operation_id="importsPage",
)
async def imports_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    async with tenant_session(principal.tenant) as s:
        recent = list(
            (await s.execute(select(Import).order_by(Import.created_at.desc()).limit(50))).scalars()
        )
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
    try:
        key = uuid.UUID(import_id)
    except ValueError:
        raise NotFoundException() from None
    async with tenant_session(principal.tenant) as s:
        row = await s.get(Import, key)
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


def errors_csv(rows: list[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "column", "value", "reason"])
    for r in rows:
        writer.writerow(safe_csv_row([r.line, r.column_name, r.value, r.reason]))
    return out.getvalue().encode()


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
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{row.id}-errors.csv"'},
    )


@post(
    "/imports",
    guards=[requires("imports:run")],
    operation_id="createImport",
    status_code=HTTP_202_ACCEPTED,
    request_max_body_size=UPLOAD_HARD_CAP,
    tags=["imports"],
)
async def api_create_import(
    principal: NamedDependency[Principal],
    state: State,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    """Upload a file (multipart: ``entity``, optional ``profile``, ``file``); poll the job."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise ImportRefused("file: attach the file as multipart field 'file'")
    job = await submit_import(
        state, principal, str(data.get("entity", "")), data.get("profile"), upload
    )
    return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}


@get(
    "/jobs/{job_id:str}",
    guards=[requires("jobs:read")],
    operation_id="getJob",
    tags=["jobs"],
)
async def api_job(
    principal: NamedDependency[Principal], job_id: FromPath[str], state: State
) -> dict[str, Any]:
    try:
        return await get_tenant_job(state.runtime, principal.tenant, job_id)
    except JobNotFound:
        raise NotFoundException() from None


@get(
    "/imports/{import_id:str}",
    guards=[requires("imports:run")],
    operation_id="getImport",
    tags=["imports"],
)
async def api_import(
    principal: NamedDependency[Principal], import_id: FromPath[str]
) -> dict[str, Any]:
    row = await _import_row(principal, import_id)
    errors = await import_errors(principal.tenant, row.id, limit=1000)
    return {
        "id": str(row.id),
        "entity": row.entity,
        "profile": row.profile,
        "status": row.status,
        "file_name": row.file_name,
        "file_sha256": row.file_sha256 or None,  # empty while the file is being read
        "total_rows": row.total_rows,
        "inserted": row.inserted,
        "updated": row.updated,
        "unchanged": row.unchanged,
        "error_count": row.error_count,
        "errors": [
            {"line": e.line, "column": e.column_name, "value": e.value, "reason": e.reason}
            for e in errors
        ],
    }


ROUTES = [
    StaffPages(imports_page, upload_import, import_job_page, import_page, import_errors_csv),
    Api(api_create_import, api_job, api_import),
]
