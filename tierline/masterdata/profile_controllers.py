"""Mapping profiles: a page to create and edit them, and the same over the API."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.masterdata.entities import ENTITIES, LOAD_ORDER
from tierline.masterdata.profile_store import list_profiles, save_profile
from tierline.masterdata.profiles import ProfileError
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import (
    actor_of,
)
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session


def parse_lines(text: str, separator: str) -> dict[str, str]:
    """``attribute = Source column`` lines into a mapping (blank lines and # comments skipped)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        left, sep, right = line.partition(separator)
        if not sep:
            raise ProfileError(f"line {number}: write it as 'left {separator} right'")
        found[left.strip()] = right.strip()
    return found


def parse_values(text: str) -> dict[str, dict[str, str]]:
    """``attribute: source value => Tierline value`` lines."""
    found: dict[str, dict[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        attribute, sep, rest = line.partition(":")
        source, arrow, target = rest.partition("=>")
        if not sep or not arrow:
            raise ProfileError(f"value line {number}: write it as 'attribute: source => value'")
        found.setdefault(attribute.strip(), {})[source.strip()] = target.strip()
    return found


def form_to_raw(form: Any) -> dict[str, Any]:
    return {
        "name": str(form.get("name", "")),
        "entity": str(form.get("entity", "")),
        "source_system": str(form.get("source_system", "erp")),
        "columns": parse_lines(str(form.get("columns", "")), "="),
        "values": parse_values(str(form.get("values", ""))),
        "options": {
            "delimiter": "\t"
            if form.get("delimiter") == "tab"
            else str(form.get("delimiter") or ","),
            "encoding": str(form.get("encoding") or "utf-8"),
            "decimal": str(form.get("decimal") or "."),
            "date_format": str(form.get("date_format") or "") or None,
            "sheet": str(form.get("sheet") or "") or None,
        },
    }


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
    tags=["imports"],
)
async def api_profiles(principal: NamedDependency[Principal]) -> list[dict[str, Any]]:
    async with tenant_session(principal.tenant) as s:
        return [p.as_dict() for p in await list_profiles(s)]


@put(
    "/import-profiles/{name:str}",
    guards=[requires("imports:run")],
    operation_id="saveImportProfile",
    tags=["imports"],
)
async def api_save_profile(
    principal: NamedDependency[Principal], name: FromPath[str], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    """Create or replace a profile (entity, source_system, columns, values, options)."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ValidationException("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValidationException("send the profile as a JSON object")
    try:
        async with tenant_session(principal.tenant) as s:
            profile = await save_profile(s, {**body, "name": name}, actor_of(request, principal))
    except ProfileError as exc:
        raise ValidationException(str(exc)) from None
    return profile.as_dict()


ROUTES = [StaffPages(profiles_page, save_profile_page), Api(api_profiles, api_save_profile)]
