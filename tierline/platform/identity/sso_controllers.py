"""Single sign-on pages: starting a sign-in at the tenant's identity provider, the callback, and
the tenant admin's provider settings. The logic lives in ``oidc``; this module is the web side
(templates; the flow both staff and portal pages share is ``sso_flow``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from tierline.platform.access import PUBLIC, requires
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity import oidc
from tierline.platform.identity.models import OidcProvider
from tierline.platform.identity.oidc import (
    SignedIn,
    SsoConfigError,
)
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.signin import safe_next, start_session
from tierline.platform.identity.sso_flow import begin_sign_in, complete_sign_in, error_page
from tierline.platform.identity.users import STAFF_ROLES
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.policies import ROLES


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
    next_path = safe_next(current_tenant, next)
    return await begin_sign_in(
        request, state, current_tenant, oidc.STAFF_FLOW, next_path, error_page
    )


@get(
    "/sso/callback",
    guards=[requires(PUBLIC)],
    operation_id="ssoCallback",
)
async def sso_callback(
    current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
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
        request, state, current_tenant, oidc.STAFF_FLOW, error_page, signed_in_page
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
