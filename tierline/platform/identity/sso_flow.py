"""The web side of single sign-on that staff and portal flows share: throttling, the browser
binding cookie, audited refusals, and starting and finishing a sign-in at the provider. The
protocol itself lives in ``oidc``; each flow's routes supply their own pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie, State
from litestar.response import Redirect, Template

from tierline.platform.audit import record
from tierline.platform.identity import oidc, throttle
from tierline.platform.identity.oidc import BINDING_COOKIE, CallbackParams, SignedIn, SsoRefused
from tierline.platform.identity.web import client_ip
from tierline.platform.observability import current_request_id
from tierline.platform.tenancy import TenantRef, tenant_session

# Starting and finishing a sign-in both count: 30 complete attempts per 10 minutes per address,
# staff and portal flows together.
SSO_IP_LIMIT, SSO_IP_WINDOW = 60, 600

# Renders a refusal: (tenant, HTTP status, message, optional (URL, label) to go instead).
ErrorPage = Callable[[TenantRef, int, str, tuple[str, str] | None], Awaitable[Response[Any]]]


# Turns a completed sign-in into the response (a fresh session and a redirect).
SignedInPage = Callable[[SignedIn], Awaitable[Response[Any]]]


def binding_cookie(tenant: TenantRef, flow: str, value: str, secure: bool) -> Cookie:
    """Ties the pending sign-in to this browser, sent only to the flow's own SSO routes.
    SameSite=Lax (not Strict): the provider sends the browser back with a top-level cross-site
    GET, which Strict would strip the cookie from."""
    return Cookie(
        key=BINDING_COOKIE,
        value=value,
        path=oidc.sso_path(tenant, flow) + "/",
        httponly=True,
        secure=secure,
        samesite="lax",
        max_age=oidc.STATE_TTL_SECONDS if value else 0,
    )


THROTTLED = "Too many sign-in attempts from your network. Wait a few minutes."


async def throttled(
    redis: Any, tenant: TenantRef, ip: str, error_page: ErrorPage
) -> Response[Any] | None:
    # One budget per tenant and address for both flows: switching flows buys no attempts.
    key = f"sso-ip:{tenant.slug}:{ip}"
    verdict = await throttle.hit(redis, key, SSO_IP_LIMIT, SSO_IP_WINDOW)
    if verdict.allowed:
        return None
    response = await error_page(tenant, 429, THROTTLED, None)
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response


async def error_page(
    tenant: TenantRef, status: int, message: str, link: tuple[str, str] | None = None
) -> Response[Any]:
    return Template(  # type: ignore[return-value]
        "identity/sso_error.html",
        context={
            "tenant": tenant,
            "status": status,
            "message": message,
            "link": link,
            "request_id": current_request_id(),
        },
        status_code=status,
    )


async def audit_refusal(tenant: TenantRef, refusal: SsoRefused, ip: str, flow: str) -> None:
    """Audit a refusal: its reason only (no code, token or secret)."""
    after = {"method": "sso"} if flow == oidc.STAFF_FLOW else {"method": "sso", "flow": flow}
    async with tenant_session(tenant) as s:
        await record(
            s,
            actor=refusal.email or "(unknown)",
            actor_kind="anonymous",
            action="auth.login_failed",
            object_type="user",
            object_id=refusal.user_id,
            after=after,
            reason=refusal.reason,
            request_id=current_request_id(),
            client_ip=ip,
        )


async def refused(
    tenant: TenantRef, refusal: SsoRefused, ip: str, flow: str, error_page: ErrorPage
) -> Response[Any]:
    await audit_refusal(tenant, refusal, ip, flow)
    return await error_page(tenant, refusal.status, refusal.message, refusal.link)


async def begin_sign_in(
    request: Request[Any, Any, Any],
    state: State,
    tenant: TenantRef,
    flow: str,
    next_path: str,
    error_page: ErrorPage,
    invitation_token: str | None = None,
) -> Response[Any]:
    """Throttle, start the flow at the provider, set the binding cookie and redirect there."""
    redis, ip = await state.runtime.redis(), client_ip(request)
    limited = await throttled(redis, tenant, ip, error_page)
    if limited is not None:
        return limited
    try:
        start = await oidc.start_login(
            redis,
            tenant,
            state.settings.base_url,
            next_path,
            flow=flow,
            invitation_token=invitation_token,
        )
    except SsoRefused as refusal:
        return await refused(tenant, refusal, ip, flow, error_page)
    response = Redirect(start.authorization_url, status_code=303)
    response.cookies.append(
        binding_cookie(tenant, flow, start.binding, state.settings.secure_cookies)
    )
    return response  # type: ignore[return-value]


async def complete_sign_in(
    request: Request[Any, Any, Any],
    state: State,
    tenant: TenantRef,
    flow: str,
    error_page: ErrorPage,
    signed_in_page: SignedInPage,
) -> Response[Any]:
    """Throttle, finish the flow (every check, then its account resolution), then either the
    signed-in response or an audited refusal page; the binding cookie is cleared either way."""
    redis, ip = await state.runtime.redis(), client_ip(request)
    limited = await throttled(redis, tenant, ip, error_page)
    if limited is not None:
        return limited
    query = request.query_params
    params = CallbackParams(
        state=query.get("state"),
        code=query.get("code"),
        error=query.get("error"),
        binding=request.cookies.get(BINDING_COOKIE),
    )
    try:
        signed_in = await oidc.finish_login(
            redis, tenant, params, state.settings, ip, current_request_id(), flow
        )
    except SsoRefused as refusal:
        response = await refused(tenant, refusal, ip, flow, error_page)
    else:
        response = await signed_in_page(signed_in)
    # The binding has done its job either way (the state is gone from Redis too).
    response.cookies.append(binding_cookie(tenant, flow, "", state.settings.secure_cookies))
    return response
