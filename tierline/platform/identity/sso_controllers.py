"""Single sign-on pages: starting a sign-in at the tenant's identity provider, the callback, and
the tenant admin's provider settings. The logic lives in ``oidc``; this module is the web side
(cookies, throttling, audit of refusals, templates). ``begin_sign_in`` and ``complete_sign_in``
serve the customer portal's routes too (``portal.sso_controllers``), which differ only in their
pages and in the session they start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from tierline.platform.access import PUBLIC, requires
from tierline.platform.audit import record
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity import oidc, throttle
from tierline.platform.identity.models import OidcProvider
from tierline.platform.identity.oidc import (
    BINDING_COOKIE,
    CallbackParams,
    SignedIn,
    SsoConfigError,
    SsoRefused,
)
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.users import STAFF_ROLES
from tierline.platform.observability import current_request_id
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.policies import ROLES

# The assembly mounts this module next to identity/controllers.py; its helpers (safe_next,
# start_session) are imported inside the handlers so neither module depends on import order.

# Starting and finishing a sign-in both count: 30 complete attempts per 10 minutes per address,
# staff and portal flows together.
SSO_IP_LIMIT, SSO_IP_WINDOW = 60, 600


# ---------------------------------------------------------------------------------------------
# Signing in: the web side both flows share (the portal's routes in ``portal.sso_controllers``
# call ``begin_sign_in`` and ``complete_sign_in`` with their own pages)

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


async def _throttled(
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


async def _error_page(
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


async def _refused(
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
    from tierline.platform.identity.web import client_ip

    redis, ip = await state.runtime.redis(), client_ip(request)
    limited = await _throttled(redis, tenant, ip, error_page)
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
        return await _refused(tenant, refusal, ip, flow, error_page)
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
    from tierline.platform.identity.web import client_ip

    redis, ip = await state.runtime.redis(), client_ip(request)
    limited = await _throttled(redis, tenant, ip, error_page)
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
        response = await _refused(tenant, refusal, ip, flow, error_page)
    else:
        response = await signed_in_page(signed_in)
    # The binding has done its job either way (the state is gone from Redis too).
    response.cookies.append(binding_cookie(tenant, flow, "", state.settings.secure_cookies))
    return response


@get(
    "/sso/login",
    guards=[requires(PUBLIC)],
    operation_id="ssoLogin",
)
async def sso_login(
    current_tenant: NamedDependency[TenantRef],
    request: Request[Any, Any, Any],
    state: State,
    next: FromQuery[str | None] = None,
) -> Response[Any]:
    from tierline.platform.identity.controllers import safe_next

    next_path = safe_next(current_tenant, next)
    return await begin_sign_in(
        request, state, current_tenant, oidc.STAFF_FLOW, next_path, _error_page
    )


@get(
    "/sso/callback",
    guards=[requires(PUBLIC)],
    operation_id="ssoCallback",
)
async def sso_callback(
    current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    from tierline.platform.identity.controllers import start_session

    async def signed_in_page(signed_in: SignedIn) -> Response[Any]:
        return await start_session(
            request,
            state,
            current_tenant,
            signed_in.user_id,
            signed_in.kind,
            "sso",
            signed_in.next_path,
        )

    return await complete_sign_in(
        request, state, current_tenant, oidc.STAFF_FLOW, _error_page, signed_in_page
    )


# ---------------------------------------------------------------------------------------------
# The admin page


def _values_of(provider: OidcProvider | None) -> dict[str, Any]:
    if provider is None:
        return {"enabled": True, "role_claim": "groups"}
    return {
        "name": provider.name,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "allowed_domains": "\n".join(provider.allowed_domains or []),
        "role_claim": provider.role_claim or "",
        "role_mapping": oidc.format_role_mapping(provider.role_mapping or {}),
        "default_role": provider.default_role or "",
        "enabled": provider.enabled,
    }


def _values_from_form(form: Any) -> dict[str, Any]:
    """What the admin typed, to show again after a refusal (never the secret)."""
    keys = ("name", "issuer", "client_id", "allowed_domains", "role_claim", "role_mapping")
    values: dict[str, Any] = {k: str(form.get(k, "") or "") for k in keys}
    values["default_role"] = str(form.get("default_role", "") or "")
    values["enabled"] = str(form.get("enabled", "")).lower() in ("1", "on", "true", "yes")
    return values


def _settings_page(
    principal: Principal,
    state: State,
    values: dict[str, Any],
    *,
    has_secret: bool,
    errors: list[str] | None = None,
    flash: str | None = None,
    discovery: tuple[bool, str] | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "identity/sso_settings.html",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "values": values,
            "has_secret": has_secret,
            "errors": errors or [],
            "flash": flash,
            "discovery": discovery,
            "roles": [ROLES[r] for r in STAFF_ROLES],
            "callback_url": oidc.callback_url(state.settings.base_url, principal.tenant),
            "portal_callback_url": oidc.portal_callback_url(
                state.settings.base_url, principal.tenant
            ),
        },
        status_code=status,
    )


async def _current(tenant: TenantRef) -> OidcProvider | None:
    async with tenant_session(tenant) as s:
        return await oidc.get_provider(s)


@get(
    "/admin/sso",
    guards=[requires("sso:manage")],
    operation_id="ssoSettingsPage",
)
async def sso_settings_page(principal: NamedDependency[Principal], state: State) -> Template:
    provider = await _current(principal.tenant)
    return _settings_page(principal, state, _values_of(provider), has_secret=provider is not None)


async def _test_discovery(principal: Principal, state: State) -> Template:
    provider = await _current(principal.tenant)
    result = (
        await oidc.check_discovery(provider.issuer)
        if provider is not None
        else (False, "save a configuration first")
    )
    return _settings_page(
        principal,
        state,
        _values_of(provider),
        has_secret=provider is not None,
        discovery=result,
    )


@post(
    "/admin/sso",
    guards=[requires("sso:manage")],
    operation_id="saveSsoSettings",
)
async def save_sso_settings(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> Template:
    from tierline.platform.identity.web import actor_of

    form = await request.form()
    if form.get("action") == "test":
        return await _test_discovery(principal, state)
    codec = await load_codec(principal.tenant, kms_from_settings(state.settings))
    existing = await _current(principal.tenant)
    try:
        settings = oidc.validate_settings(form, has_secret=existing is not None)
        async with tenant_session(principal.tenant) as s:
            provider = await oidc.save_provider(s, codec, settings, actor_of(request, principal))
    except SsoConfigError as exc:
        return _settings_page(
            principal,
            state,
            _values_from_form(form),
            has_secret=existing is not None,
            errors=exc.problems,
            status=422,
        )
    return _settings_page(
        principal,
        state,
        _values_of(provider),
        has_secret=True,
        flash="Single sign-on settings saved.",
        discovery=await oidc.check_discovery(provider.issuer),
    )


ROUTES = [StaffPages(sso_login, sso_callback, sso_settings_page, save_sso_settings)]
