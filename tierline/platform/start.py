"""The front door: ``/`` finds a workspace by its name, ``/favicon.ico`` is the icon.

Workspace names (tenant slugs) are no secret: each workspace's sign-in page is at its own URL,
which is what this page leads to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import File, Redirect, Template

from tierline.platform.access import PUBLIC, requires
from tierline.platform.db import InvalidSlug, validate_slug
from tierline.platform.tenancy import TenantNotFound

FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"


@get("/", guards=[requires(PUBLIC)], operation_id="startPage", include_in_schema=False)
async def start_page(state: State, workspace: FromQuery[str | None] = None) -> Response[Any]:
    """Ask for the workspace, then go to its sign-in page."""
    if workspace is None:
        return Template("start.html", context={"workspace": "", "error": None})
    name = workspace.strip().lower()
    try:
        validate_slug(name)
        ref = await state.tenants.get(name)
    except (InvalidSlug, TenantNotFound):
        error = f"There is no workspace called “{workspace.strip()[:40]}”. Check the name."
        return Template(
            "start.html", context={"workspace": workspace[:40], "error": error}, status_code=404
        )
    return Redirect(f"/t/{ref.slug}/", status_code=303)  # type: ignore[return-value]


@get("/favicon.ico", guards=[requires(PUBLIC)], operation_id="favicon", include_in_schema=False)
async def favicon() -> File:
    return File(FAVICON, media_type="image/svg+xml", content_disposition_type="inline")


ROUTES = [start_page, favicon]
