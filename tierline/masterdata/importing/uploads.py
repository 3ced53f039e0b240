"""Uploaded import files: streamed into the tenant's import area (refused past the size limit),
then queued as an import job for the worker."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

from litestar.datastructures import State, UploadFile

from tierline.masterdata.importing.entities import LOAD_ORDER
from tierline.masterdata.importing.jobs import IMPORT
from tierline.masterdata.profiles.definition import ProfileError
from tierline.masterdata.profiles.service import get_profile
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.jobs import submit_tenant_job
from tierline.platform.observability import current_request_id
from tierline.platform.tenancy import tenant_session


def upload_dir(data_dir: Path, tenant_slug: str) -> Path:
    """The tenant's import area, where an upload waits until its import ran."""
    path = data_dir / "uploads" / tenant_slug
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


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
    """Check the entity and profile, save the upload, and queue its import; the job as the
    jobs API shows it."""
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
