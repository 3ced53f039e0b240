"""Single sign-on for customer (portal) users, through the tenant's identity provider.

The same OpenID Connect flow as staff single sign-on (``identity.oidc``: discovery, PKCE, state
and nonce, the browser-binding cookie, throttling, audited refusals), with the portal's own
callback (``/portal/{tenant}/sso/callback``, registered at the provider next to the staff one),
its branded pages, and its own account resolution: a customer user is found by its provider
subject or linked by its verified e-mail, or an open invitation is accepted, and never created
(a customer user exists only through an account manager's invitation). The session started is
the one the portal's password sign-in starts, so every portal rule applies unchanged.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from tierline.platform.access import PUBLIC, requires
from tierline.platform.identity.oidc import PORTAL_FLOW, SignedIn
from tierline.platform.identity.signin import start_session
from tierline.platform.identity.sso_flow import begin_sign_in, complete_sign_in
from tierline.platform.observability import current_request_id
from tierline.platform.routing import PortalPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.portal.branding import load_branding
from tierline.portal.controllers import LOGIN_CSRF_COOKIE, portal_next


async def _error_page(
    tenant: TenantRef, status: int, message: str, link: tuple[str, str] | None = None
) -> Response[Any]:
    """A refusal in the portal's branding, with the way back to the portal's sign-in."""
    async with tenant_session(tenant) as s:
        branding = await load_branding(s, tenant)
    return Template(  # type: ignore[return-value]
        "portal/sso_error.html",
        context={
            "tenant": tenant,
            "principal": None,
            "branding": branding,
            "status": status,
            "message": message,
            "link": link,
            "request_id": current_request_id(),
        },
        status_code=status,
    )


@get(
    "/sso/login",
    guards=[requires(PUBLIC)],
    operation_id="portalSsoLogin",
)
async def portal_sso_login(
    current_tenant: NamedDependency[TenantRef],
    request: Request[Any, Any, Any],
    state: State,
    next: FromQuery[str | None] = None,
) -> Response[Any]:
    next_path = portal_next(current_tenant, next)
    return await begin_sign_in(request, state, current_tenant, PORTAL_FLOW, next_path, _error_page)


@get(
    "/sso/invitation/{token:str}",
    guards=[requires(PUBLIC)],
    operation_id="portalSsoInvitation",
)
async def portal_sso_invitation(
    current_tenant: NamedDependency[TenantRef],
    token: FromPath[str],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[Any]:
    """Accept a customer invitation by signing in at the provider ("Continue with …" on the
    invitation page). The invitation travels in the server-side state, as its digest only."""
    home = f"/portal/{current_tenant.slug}/"
    return await begin_sign_in(
        request, state, current_tenant, PORTAL_FLOW, home, _error_page, invitation_token=token
    )


@get(
    "/sso/callback",
    guards=[requires(PUBLIC)],
    operation_id="portalSsoCallback",
)
async def portal_sso_callback(
    current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    async def signed_in_page(signed_in: SignedIn) -> Response[Any]:
        # Account resolution let only an active customer user of this tenant through; the
        # session is the portal password sign-in's (same kind, same rules), method "sso".
        home = f"/portal/{current_tenant.slug}/"
        target = signed_in.next_path if signed_in.kind == "customer" else home
        response = await start_session(
            request, state, current_tenant, signed_in.user_id, signed_in.kind, "sso", target
        )
        response.cookies.append(Cookie(key=LOGIN_CSRF_COOKIE, value="", path=home, max_age=0))
        return response

    return await complete_sign_in(
        request, state, current_tenant, PORTAL_FLOW, _error_page, signed_in_page
    )


ROUTES = [PortalPages(portal_sso_login, portal_sso_invitation, portal_sso_callback)]
