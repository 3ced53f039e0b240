"""Staff pages of the portal: account managers invite and revoke customer users
(``portal:invite``, limited to the customers of their business scopes), and tenant admins
brand the portal (``users:manage``: branding is part of how the tenant's users meet it, and
the admin who manages portal access is the one who owns its look)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.platform.access import requires
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import (
    actor_of,
    scopes_with,
    session_store,
)
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.portal import branding as branding_service
from tierline.portal.invitations import invite_portal_user, list_portal_users, revoke_portal_user

INVITE = "portal:invite"
BRANDING = "users:manage"


def _back(principal: Principal, done: str | None = None, error: str | None = None) -> Response[Any]:
    target = f"/t/{principal.tenant.slug}/portal-users"
    if done:
        target += "?done=" + quote(done)
    elif error:
        target += "?error=" + quote(error)
    return Redirect(target, status_code=303)  # type: ignore[return-value]


@get(
    "/portal-users",
    guards=[requires(INVITE)],
    operation_id="portalUsersPage",
)
async def portal_users_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    scopes = scopes_with(request, principal, INVITE)
    async with tenant_session(principal.tenant) as s:
        rows = await list_portal_users(s, scopes)
    return Template(
        "portal/staff_users.html",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "rows": rows,
            "scopes": "all scopes" if scopes is None else ", ".join(sorted(scopes)),
            "flash": request.query_params.get("done"),
            "error": request.query_params.get("error"),
        },
    )


@post(
    "/portal-users",
    guards=[requires(INVITE)],
    operation_id="invitePortalUser",
)
async def invite_portal_user_action(
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[Any]:
    form = await request.form()
    try:
        async with tenant_session(principal.tenant) as s:
            created = await invite_portal_user(
                s,
                email=str(form.get("email", "")),
                customer_code=str(form.get("customer_code", "")),
                scopes=scopes_with(request, principal, INVITE),
                actor=actor_of(request, principal),
            )
    except (DomainError, ValueError) as exc:
        return _back(principal, error=str(exc))
    link = (
        f"{state.settings.base_url}/t/{principal.tenant.slug}/invitation/{created.invitation_token}"
    )
    return _back(
        principal,
        done=f"Invited {created.user.email} for {created.user.customer_code}. "
        f"Send them this link (valid 7 days): {link}",
    )


@post(
    "/portal-users/{user_id:str}/revoke",
    guards=[requires(INVITE)],
    operation_id="revokePortalUser",
)
async def revoke_portal_user_action(
    principal: NamedDependency[Principal],
    user_id: FromPath[str],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[Any]:
    try:
        async with tenant_session(principal.tenant) as s:
            user = await revoke_portal_user(
                s, user_id, scopes_with(request, principal, INVITE), actor_of(request, principal)
            )
            email, uid = user.email, str(user.id)
    except (DomainError, ValueError) as exc:
        return _back(principal, error=str(exc))
    store = await session_store(state.runtime)
    with contextlib.suppress(ValueError):
        await store.end_all_for(principal.tenant.slug, uid)
    return _back(principal, done=f"Portal access of {email} revoked.")


def _branding_page(
    principal: Principal,
    current: branding_service.Branding,
    *,
    errors: list[str] | None = None,
    flash: str | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "portal/staff_branding.html",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "branding": current,
            "errors": errors or [],
            "flash": flash,
        },
        status_code=status,
    )


@get(
    "/portal-branding",
    guards=[requires(BRANDING)],
    operation_id="portalBrandingPage",
)
async def portal_branding_page(principal: NamedDependency[Principal]) -> Template:
    async with tenant_session(principal.tenant) as s:
        current = await branding_service.load_branding(s, principal.tenant)
    return _branding_page(principal, current)


@post(
    "/portal-branding",
    guards=[requires(BRANDING)],
    operation_id="savePortalBranding",
    request_max_body_size=1024 * 1024,
)
async def save_portal_branding(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    form = await request.form()
    upload = form.get("logo")
    logo = await upload.read() if isinstance(upload, UploadFile) else None
    try:
        async with tenant_session(principal.tenant) as s:
            saved = await branding_service.save_branding(
                s,
                principal.tenant,
                actor_of(request, principal),
                display_name=str(form.get("display_name", "")),
                primary_colour=str(form.get("primary_colour", "")),
                accent_colour=str(form.get("accent_colour", "")),
                support_email=str(form.get("support_email", "")),
                logo=logo or None,
                remove_logo=form.get("remove_logo") == "1",
            )
    except DomainError as exc:
        async with tenant_session(principal.tenant) as s:
            current = await branding_service.load_branding(s, principal.tenant)
        return _branding_page(principal, current, errors=[str(exc)], status=422)
    return _branding_page(principal, saved, flash="Portal branding saved.")


ROUTES = [
    StaffPages(
        portal_users_page,
        invite_portal_user_action,
        revoke_portal_user_action,
        portal_branding_page,
        save_portal_branding,
    )
]
