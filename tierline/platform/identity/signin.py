"""The sign-in flow staff and portal pages share: forms with a CSRF cookie, the throttled
password check, and starting a fresh session."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie, State
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template

from tierline.platform.identity.login import authenticate, check_ip, count_failure
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.sessions import SESSION_COOKIE, session_cookie
from tierline.platform.identity.web import client_ip, session_store
from tierline.platform.observability import current_request_id
from tierline.platform.tenancy import TenantRef, tenant_session

LOGIN_CSRF_COOKIE = "tl_login_csrf"


def safe_next(tenant: TenantRef, raw: str | None) -> str:
    """Only same-tenant relative paths are followed after sign-in (no open redirect)."""
    home = f"/t/{tenant.slug}/"
    if not raw:
        return home
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith(home) or "\\" in raw:
        return home
    return raw


def login_form(
    template: str,
    context: dict[str, Any],
    status: int,
    cookie_path: str,
    cookie_name: str = LOGIN_CSRF_COOKIE,
) -> Response[Any]:
    """A sign-in form with a fresh CSRF token, in the page and in a strict cookie
    ``cookie_name`` scoped to ``cookie_path`` (the form post must carry both)."""
    token = secrets.token_urlsafe(32)
    response = Template(template, context={**context, "csrf": token}, status_code=status)
    response.cookies.append(
        Cookie(
            key=cookie_name,
            value=token,
            path=cookie_path,
            httponly=True,
            samesite="strict",
            max_age=3600,
        )
    )
    return response  # type: ignore[return-value]


THROTTLED = "Too many sign-in attempts from your network. Wait a few minutes and try again."


@dataclass(frozen=True)
class SignInAttempt:
    """A password sign-in form post, checked: the CSRF pair, the per-address throttle, then
    the credentials. ``user_id`` is None when it failed (``error``/``status`` say why)."""

    email: str
    next_path: str
    user_id: str | None = None
    kind: str = ""
    must_change: bool = False
    error: str | None = None
    status: int = 200
    retry_after: int | None = None  # set when the address is throttled


async def attempt_sign_in(
    request: Request[Any, Any, Any],
    state: State,
    tenant: TenantRef,
    csrf_cookie: str,
    next_of: Callable[[TenantRef, str | None], str],
) -> SignInAttempt:
    form = await request.form()
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1024]
    next_path = next_of(tenant, str(form.get("next", "")))
    cookie_token = request.cookies.get(csrf_cookie, "")
    if not cookie_token or not secrets.compare_digest(cookie_token, str(form.get("_csrf", ""))):
        raise PermissionDeniedException("the sign-in form expired; reload the page and try again")
    verdict = await check_ip(await state.runtime.redis(), tenant.slug, client_ip(request))
    if not verdict.allowed:
        return SignInAttempt(
            email, next_path, error=THROTTLED, status=429, retry_after=verdict.retry_after
        )
    async with tenant_session(tenant) as s:
        outcome = await authenticate(s, email, password, client_ip(request), current_request_id())
        user = outcome.user
    if user is None:
        await count_failure(await state.runtime.redis(), tenant.slug, client_ip(request))
        return SignInAttempt(email, next_path, error=outcome.error, status=outcome.status)
    return SignInAttempt(email, next_path, str(user.id), user.kind, user.must_change_password)


def throttled(response: Response[Any], attempt: SignInAttempt) -> Response[Any]:
    if attempt.retry_after is not None:
        response.headers["Retry-After"] = str(attempt.retry_after)
    return response


async def start_session(
    request: Request[Any, Any, Any],
    state: State,
    tenant: TenantRef,
    user_id: str,
    kind: str,
    method: str,
    redirect_to: str,
) -> Response[Any]:
    """Start a fresh session (any previous one from this browser ends) and redirect."""
    store = await session_store(state.runtime)
    session = await store.create(
        tenant.slug, user_id, kind, method, request.cookies.get(SESSION_COOKIE)
    )
    response = Redirect(redirect_to, status_code=303)
    response.cookies.append(session_cookie(session, state.settings.secure_cookies))
    response.cookies.append(
        Cookie(key=LOGIN_CSRF_COOKIE, value="", path=f"/t/{tenant.slug}/", max_age=0)
    )
    return response  # type: ignore[return-value]


async def change_own_password(
    request: Request[Any, Any, Any], state: State, principal: Principal
) -> list[str]:
    """Change the signed-in user's password from the posted form (``current``, ``new``,
    ``repeat``); what is wrong with it, or nothing once changed. A new password ends every
    session of the user (the caller starts a fresh one)."""
    from tierline.platform.identity import users as user_service
    from tierline.platform.identity.passwords import verify_password
    from tierline.platform.identity.web import actor_of

    form = await request.form()
    current, new, repeat = (str(form.get(k, ""))[:1024] for k in ("current", "new", "repeat"))
    async with tenant_session(principal.tenant) as s:
        user = await user_service.get_user(s, principal.subject)
        if not verify_password(user.password_hash, current):
            return ["the current password is not right"]
        if new != repeat:
            return ["the two new passwords differ"]
        try:
            await user_service.set_password(s, user, new, actor_of(request, principal))
        except user_service.UserError as exc:
            return [str(exc)]
    store = await session_store(state.runtime)
    await store.end_all_for(principal.tenant.slug, principal.subject)
    return []
