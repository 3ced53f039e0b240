"""Pages for signing in and out, accepting invitations, changing one's password, and the
tenant admin's users-and-roles page."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from tierline.platform.access import PUBLIC, requires
from tierline.platform.audit import record
from tierline.platform.errors import DomainError
from tierline.platform.identity import users as user_service
from tierline.platform.identity.models import User
from tierline.platform.identity.oidc import enabled_provider_name, invitation_provider_name
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.redirects import WHILE_PASSWORD_PENDING
from tierline.platform.identity.reset_pages import ResetSurface, reset_handlers
from tierline.platform.identity.sessions import session_cookie
from tierline.platform.identity.signin import (
    LOGIN_CSRF_COOKIE,
    attempt_sign_in,
    change_own_password,
    login_form,
    safe_next,
    start_session,
    throttled,
)
from tierline.platform.identity.users import STAFF_ROLES, Actor
from tierline.platform.identity.web import actor_of, client_ip, session_store
from tierline.platform.observability import current_request_id
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.policies import ROLES

INVITATION_CSRF_COOKIE = "tl_invitation_csrf"


def _login_page(
    tenant: TenantRef,
    error: str | None,
    email: str,
    next_path: str,
    status: int,
    sso: str | None = None,
    reset: bool = False,
) -> Response[Any]:
    context = {
        "tenant": tenant,
        "error": error,
        "email": email,
        "next": next_path,
        "sso": sso,
        "reset": reset,
    }
    return login_form("identity/login.html", context, status, f"/t/{tenant.slug}/")


@get(
    "/login",
    guards=[requires(PUBLIC)],
    operation_id="loginPage",
)
async def login_page(
    current_tenant: NamedDependency[TenantRef],
    next: FromQuery[str | None] = None,
    reset: FromQuery[bool] = False,
) -> Response[Any]:
    sso = await enabled_provider_name(current_tenant)  # the "Sign in with …" button
    next_path = safe_next(current_tenant, next)
    return _login_page(current_tenant, None, "", next_path, 200, sso, reset=reset)


@post(
    "/login",
    guards=[requires(PUBLIC)],
    operation_id="login",
)
async def login(
    current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    attempt = await attempt_sign_in(request, state, current_tenant, LOGIN_CSRF_COOKIE, safe_next)
    if attempt.user_id is None:
        sso = None if attempt.retry_after else await enabled_provider_name(current_tenant)
        page = _login_page(
            current_tenant, attempt.error, attempt.email, attempt.next_path, attempt.status, sso
        )
        return throttled(page, attempt)
    if attempt.kind == "customer":  # a customer user at the staff sign-in: home is the portal
        target = f"/portal/{current_tenant.slug}/"
    elif attempt.must_change:
        target = f"/t/{current_tenant.slug}/account/password"
    else:
        target = attempt.next_path
    return await start_session(
        request, state, current_tenant, attempt.user_id, attempt.kind, "password", target
    )


@post(
    "/logout",
    guards=[requires("tenant:view")],
    operation_id="logout",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def logout(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    store = await session_store(state.runtime)
    if principal.session_id:
        await store.delete(principal.session_id)
    async with tenant_session(principal.tenant) as s:
        await record(
            s,
            actor=principal.display,
            actor_kind="user",
            action="auth.logout",
            object_type="user",
            object_id=principal.subject,
            request_id=current_request_id(),
            client_ip=client_ip(request),
        )
    response = Redirect(f"/t/{principal.tenant.slug}/login", status_code=303)
    response.cookies.append(session_cookie(None, state.settings.secure_cookies))
    return response  # type: ignore[return-value]


@get(
    "/account/password",
    guards=[requires("tenant:view")],
    operation_id="passwordPage",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def password_page(principal: NamedDependency[Principal]) -> Template:
    return Template("identity/password.html", context=_page(principal, errors=[]))


@post(
    "/account/password",
    guards=[requires("tenant:view")],
    operation_id="changePassword",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def change_password(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    errors = await change_own_password(request, state, principal)
    if errors:
        return Template(
            "identity/password.html", context=_page(principal, errors=errors), status_code=422
        )  # type: ignore[return-value]
    return await start_session(
        request,
        state,
        principal.tenant,
        principal.subject,
        principal.kind,
        "password",
        f"/t/{principal.tenant.slug}/",
    )


@get(
    "/invitation/{token:str}",
    guards=[requires(PUBLIC)],
    operation_id="invitationPage",
)
async def invitation_page(
    current_tenant: NamedDependency[TenantRef], token: FromPath[str]
) -> Response[Any]:
    return await _invitation_page(current_tenant, token, [], 200)


async def _invitation_page(
    tenant: TenantRef, token: str, errors: list[str], status: int
) -> Response[Any]:
    """Choose a password; for an open customer invitation while the tenant's single sign-on
    is on, also "Continue with …" (the portal's SSO accepts it: portal.sso_controllers).
    The form carries a CSRF pair like the sign-in forms: another site cannot make a browser
    accept an invitation (and so sign in to an account) it chose."""
    sso = await invitation_provider_name(tenant, token)
    context = {
        "tenant": tenant,
        "token": token,
        "errors": errors,
        "sso": sso,
        "sso_url": f"/portal/{tenant.slug}/sso/invitation/{quote(token, safe='')}",
    }
    return login_form(
        "identity/invitation.html",
        context,
        status,
        f"/t/{tenant.slug}/invitation/",
        INVITATION_CSRF_COOKIE,
    )


@post(
    "/invitation/{token:str}",
    guards=[requires(PUBLIC)],
    operation_id="acceptInvitation",
)
async def accept_invitation(
    current_tenant: NamedDependency[TenantRef],
    token: FromPath[str],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[Any]:
    form = await request.form()
    new, repeat = str(form.get("new", "")), str(form.get("repeat", ""))
    errors: list[str] = []
    user_id = kind = None
    cookie_token = request.cookies.get(INVITATION_CSRF_COOKIE, "")
    if not cookie_token or not secrets.compare_digest(cookie_token, str(form.get("_csrf", ""))):
        message = "This form has expired. Please enter your password again."
        return await _invitation_page(current_tenant, token, [message], 403)
    if new != repeat:
        errors.append("the two passwords differ")
    else:
        try:
            async with tenant_session(current_tenant) as s:
                user = await user_service.accept_invitation(s, token, new)
                user_id, kind = str(user.id), user.kind
        except user_service.UserError as exc:
            errors.append(str(exc))
    if errors or user_id is None or kind is None:
        return await _invitation_page(current_tenant, token, errors, 422)
    home = f"/portal/{current_tenant.slug}/" if kind == "customer" else f"/t/{current_tenant.slug}/"
    return await start_session(request, state, current_tenant, user_id, kind, "invitation", home)


def _page(principal: NamedDependency[Principal], **extra: Any) -> dict[str, Any]:
    return {"tenant": principal.tenant, "principal": principal, **extra}


@get(
    "/admin/users",
    guards=[requires("users:manage")],
    operation_id="usersPage",
)
async def users_page(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    async with tenant_session(principal.tenant) as s:
        rows = await user_service.list_users(s)
    flash = request.query_params.get("done")
    return Template(
        "identity/users.html",
        context=_page(
            principal,
            rows=rows,
            roles=[ROLES[r] for r in STAFF_ROLES],
            flash=flash,
            error=request.query_params.get("error"),
        ),
    )


def _back(principal: Principal, done: str | None = None, error: str | None = None) -> Response[Any]:
    target = f"/t/{principal.tenant.slug}/admin/users"
    if done:
        target += "?done=" + quote(done)
    elif error:
        target += "?error=" + quote(error)
    return Redirect(target, status_code=303)  # type: ignore[return-value]


@post(
    "/admin/users",
    guards=[requires("users:manage")],
    operation_id="createUser",
)
async def create_user(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    form = await request.form()
    try:
        async with tenant_session(principal.tenant) as s:
            created = await user_service.create_user(
                s,
                email=str(form.get("email", "")),
                display_name=str(form.get("name", "")) or None,
                role=str(form.get("role", "")),
                scope=str(form.get("scope", "*") or "*"),
                actor=actor_of(request, principal),
                invite=True,
            )
    except (user_service.UserError, ValueError) as exc:
        return _back(principal, error=str(exc))
    link = (
        f"{state.settings.base_url}/t/{principal.tenant.slug}/invitation/{created.invitation_token}"
    )
    return _back(
        principal, done=f"Invited {created.user.email}. Send them this link (valid 7 days): {link}"
    )


async def _user_action(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], action: Any
) -> Response[Any]:
    try:
        async with tenant_session(principal.tenant) as s:
            message = await action(s, actor_of(request, principal))
    except (DomainError, ValueError) as exc:
        return _back(principal, error=str(exc))
    return _back(principal, done=message)


@post(
    "/admin/users/{user_id:str}/roles",
    guards=[requires("roles:manage")],
    operation_id="grantRole",
)
async def grant_role(
    principal: NamedDependency[Principal], user_id: FromPath[str], request: Request[Any, Any, Any]
) -> Response[Any]:
    form = await request.form()
    role, scope = str(form.get("role", "")), str(form.get("scope", "*") or "*")
    revoke = form.get("revoke") == "1"

    async def act(s: Any, actor: Actor) -> str:
        if revoke:
            if str(user_id) == principal.subject and role == "admin":
                raise user_service.UserError("you cannot remove your own admin role")
            await user_service.revoke_role(s, user_id, role, scope, actor)
            return f"Revoked {role} ({scope})."
        await user_service.grant_role(s, user_id, role, scope, actor)
        return f"Granted {role} ({scope})."

    return await _user_action(principal, request, act)


@post(
    "/admin/users/{user_id:str}/status",
    guards=[requires("users:manage")],
    operation_id="setUserStatus",
)
async def set_user_status(
    principal: NamedDependency[Principal],
    user_id: FromPath[str],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[Any]:
    form = await request.form()
    status = str(form.get("status", ""))
    if str(user_id) == principal.subject:
        return _back(principal, error="you cannot lock or disable yourself")

    async def act(s: Any, actor: Actor) -> str:
        user: User = await user_service.set_status(
            s, user_id, status, actor, str(form.get("reason", ""))
        )
        return f"{user.email} is now {status}."

    response = await _user_action(principal, request, act)
    if status != "active":
        store = await session_store(state.runtime)
        with contextlib.suppress(ValueError):
            await store.end_all_for(principal.tenant.slug, str(uuid.UUID(str(user_id))))
    return response


async def _no_context(_tenant: TenantRef) -> dict[str, Any]:
    return {}


RESET_PAGES = ResetSurface("/t", "identity/forgot.html", "identity/reset.html", _no_context)

ROUTES = [
    StaffPages(
        login_page,
        login,
        logout,
        password_page,
        change_password,
        invitation_page,
        accept_invitation,
        users_page,
        create_user,
        grant_role,
        set_user_status,
        *reset_handlers(RESET_PAGES),
    )
]
