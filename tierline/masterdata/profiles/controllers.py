"""Mapping profiles: a page to create and edit them, and the same over the API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.masterdata.importing.entities import ENTITIES, LOAD_ORDER
from tierline.masterdata.profiles.definition import ProfileError
from tierline.masterdata.profiles.schemas import ProfileIn, ProfileListOut, ProfileOut
from tierline.masterdata.profiles.service import form_to_raw, list_profiles, save_profile
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import PAGED, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session


async def _page(
    principal: Principal,
    error: str | None = None,
    draft: dict[str, Any] | None = None,
    status: int = 200,
    saved: str | None = None,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        profiles = await list_profiles(s)
    attributes = {name: [f.name for f in spec.fields] for name, spec in ENTITIES.items()}
    return Template(
        "masterdata/profiles.html",
        status_code=status,
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "profiles": profiles,
            "error": error,
            "draft": draft or {},
            "entities": LOAD_ORDER,
            "attributes": attributes,
            "saved": saved,
        },
    )


@get(
    "/imports/profiles",
    guards=[requires("imports:run")],
    operation_id="profilesPage",
)
async def profiles_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    return await _page(principal, saved=request.query_params.get("saved"))


@post(
    "/imports/profiles",
    guards=[requires("imports:run")],
    operation_id="saveProfilePage",
)
async def save_profile_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Response[Any]:
    form = await request.form()
    draft = {
        k: str(form.get(k, ""))
        for k in (
            "name",
            "entity",
            "source_system",
            "columns",
            "values",
            "delimiter",
            "encoding",
            "decimal",
            "date_format",
            "sheet",
            "detect",
        )
    }
    try:
        raw = form_to_raw(form)
        async with tenant_session(principal.tenant) as s:
            profile = await save_profile(s, raw, actor_of(request, principal))
    except ProfileError as exc:
        return await _page(principal, str(exc), draft, 422)  # type: ignore[return-value]
    return Redirect(
        f"/t/{principal.tenant.slug}/imports/profiles?saved={profile.name}", status_code=303
    )  # type: ignore[return-value]


@get(
    "/import-profiles",
    guards=[requires("imports:run")],
    operation_id="listImportProfiles",
    dependencies=PAGED,
)
async def api_profiles(principal: NamedDependency[Principal], page: PageRequest) -> ProfileListOut:
    """Import profiles by name: Tierline's presets (ERP exports as saved) and the tenant's."""
    async with tenant_session(principal.tenant) as s:
        profiles = [msgspec.convert(p.as_dict(), ProfileOut) for p in await list_profiles(s)]
    found = page.slice(profiles, lambda p: (p.name,))
    return ProfileListOut(found.items, found.next_cursor)


@put(
    "/import-profiles/{name:str}",
    guards=[requires("imports:run")],
    operation_id="saveImportProfile",
)
async def api_save_profile(
    principal: NamedDependency[Principal],
    name: FromPath[str],
    request: Request[Any, Any, Any],
    data: ProfileIn,
) -> ProfileOut:
    """Create or replace the profile ``name``: the entity, source system, column mapping, value
    translations, aliases and file options. A profile that does not validate is a 400 saying
    why."""
    body = msgspec.to_builtins(data)
    try:
        async with tenant_session(principal.tenant) as s:
            profile = await save_profile(s, {**body, "name": name}, actor_of(request, principal))
    except ProfileError as exc:
        raise ValidationException(str(exc)) from None
    return msgspec.convert(profile.as_dict(), ProfileOut)


ROUTES = [StaffPages(profiles_page, save_profile_page), Api(api_profiles, api_save_profile)]
