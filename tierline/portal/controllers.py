"""The B2B portal under ``/portal/{tenant}/`` and its JSON API under ``/api/v1/portal/``.

Access (decided in ``identity.web.check_permission``, repeated here as defence in depth):
every route but sign-in, the stylesheet and the logo requires ``portal:self``, which only the
``customer`` role holds; the guard answers 404 to a staff session on a portal route and to a
portal session on a staff route, and 404 to any session of another tenant. Which accounts a
customer user sees comes from its user record (``customer_code``) and the customer hierarchy,
never from the request: any other account code in a path or query answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.response.base import ASGIResponse
from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.access import PUBLIC, requires
from tierline.platform.api_docs import query_parameters
from tierline.platform.downloads import PDF, csv_download, file_download
from tierline.platform.identity.oidc import provider_button
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.redirects import WHILE_PASSWORD_PENDING
from tierline.platform.identity.reset_pages import ResetSurface, reset_handlers
from tierline.platform.identity.sessions import session_cookie
from tierline.platform.identity.signin import (
    attempt_sign_in,
    change_own_password,
    login_form,
    start_session,
    throttled,
)
from tierline.platform.identity.web import ensure_same_tenant, provide_principal, session_store
from tierline.platform.pagination import PAGED, InvalidCursor, PageRequest, encode_cursor
from tierline.platform.routing import Api, PortalPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.portal import documents, service
from tierline.portal.accounts import PortalAccount, pick_account, reachable_accounts
from tierline.portal.branding import Branding, load_branding, load_logo
from tierline.portal.cache import portal_cache
from tierline.portal.performance import GRAINS, MEASURES, Grain, chart_for, performance
from tierline.portal.schemas import PortalNoticesOut, PortalOverviewOut, PortalPerformanceOut

PORTAL = "portal:self"
LOGIN_CSRF_COOKIE = "tl_portal_login_csrf"
CSS = Path(__file__).resolve().parent / "templates" / "portal" / "portal.css"


def _today() -> Any:
    return datetime.now(UTC).date()


def _customer(principal: Principal, slug: str | None = None) -> Principal:
    """Defence in depth: a customer user of this tenant with an account, else 404."""
    if principal.kind != "customer" or not principal.customer_code:
        raise NotFoundException()
    if slug is not None:
        ensure_same_tenant(principal, slug)
    return principal


async def _accounts(session: AsyncSession, principal: Principal) -> list[PortalAccount]:
    """The accounts in the user's reach, read in the caller's unit of work (one transaction
    per request: the reach and what is shown for it come from the same snapshot)."""
    accounts = await reachable_accounts(session, principal.customer_code)
    if not accounts:
        raise NotFoundException()  # the account was deleted: nothing to show
    return accounts


async def _reach(
    session: AsyncSession, principal: Principal
) -> tuple[list[PortalAccount], Branding]:
    accounts = await _accounts(session, principal)
    return accounts, await load_branding(session, principal.tenant)


def _page(
    template: str, principal: Principal, branding: Branding, status: int = 200, **extra: Any
) -> Template:
    return Template(
        f"portal/{template}",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "branding": branding,
            **extra,
        },
        status_code=status,
    )


# ---------------------------------------------------------------------------------------------
# Signing in and out (the password check, throttling and sessions are identity's)


def portal_next(tenant: TenantRef, raw: str | None) -> str:
    """Only same-tenant portal paths are followed after sign-in (no open redirect)."""
    home = f"/portal/{tenant.slug}/"
    if not raw:
        return home
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith(home) or "\\" in raw:
        return home
    return raw


async def _login_page(
    tenant: TenantRef,
    error: str | None,
    email: str,
    next_path: str,
    status: int,
    reset: bool = False,
) -> Response[Any]:
    async with tenant_session(tenant) as s:
        branding = await load_branding(s, tenant)
        sso = await provider_button(s)  # "Sign in with …" (portal.sso_controllers)
    context = {
        "tenant": tenant,
        "principal": None,
        "branding": branding,
        "error": error,
        "email": email,
        "next": next_path,
        "sso": sso,
        "reset": reset,
    }
    return login_form(
        "portal/login.html", context, status, f"/portal/{tenant.slug}/", LOGIN_CSRF_COOKIE
    )


@get(
    "/login",
    guards=[requires(PUBLIC)],
    operation_id="portalLoginPage",
)
async def portal_login_page(
    current_tenant: NamedDependency[TenantRef],
    next: FromQuery[str | None] = None,
    reset: FromQuery[bool] = False,
) -> Response[Any]:
    next_path = portal_next(current_tenant, next)
    return await _login_page(current_tenant, None, "", next_path, 200, reset=reset)


@post(
    "/login",
    guards=[requires(PUBLIC)],
    operation_id="portalLogin",
)
async def portal_login(
    current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    attempt = await attempt_sign_in(request, state, current_tenant, LOGIN_CSRF_COOKIE, portal_next)
    if attempt.user_id is None:
        page = await _login_page(
            current_tenant, attempt.error, attempt.email, attempt.next_path, attempt.status
        )
        return throttled(page, attempt)
    user_id, kind, next_path = attempt.user_id, attempt.kind, attempt.next_path
    # Staff who sign in here go to the staff pages: the portal is for customer users only.
    target = next_path if kind == "customer" else f"/t/{current_tenant.slug}/"
    if kind == "customer" and attempt.must_change:
        target = f"/portal/{current_tenant.slug}/account/password"
    response = await start_session(
        request, state, current_tenant, user_id, kind, "password", target
    )
    response.cookies.append(
        Cookie(key=LOGIN_CSRF_COOKIE, value="", path=f"/portal/{current_tenant.slug}/", max_age=0)
    )
    return response


@post(
    "/logout",
    guards=[requires(PORTAL)],
    operation_id="portalLogout",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def portal_logout(principal: NamedDependency[Principal], state: State) -> Response[Any]:
    store = await session_store(state.runtime)
    if principal.session_id:
        await store.delete(principal.session_id)
    response = Redirect(f"/portal/{principal.tenant.slug}/login", status_code=303)
    response.cookies.append(session_cookie(None, state.settings.secure_cookies))
    return response  # type: ignore[return-value]


@get(
    "/account/password",
    guards=[requires(PORTAL)],
    operation_id="portalPasswordPage",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def portal_password_page(principal: NamedDependency[Principal]) -> Template:
    """Change one's password (the first page after signing in with a one-time password)."""
    async with tenant_session(principal.tenant) as s:
        branding = await load_branding(s, principal.tenant)
    return _page("password.html", _customer(principal), branding, errors=[])


@post(
    "/account/password",
    guards=[requires(PORTAL)],
    operation_id="portalChangePassword",
    opt={WHILE_PASSWORD_PENDING: True},
)
async def portal_change_password(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> Response[Any]:
    errors = await change_own_password(request, state, _customer(principal))
    if errors:
        async with tenant_session(principal.tenant) as s:
            branding = await load_branding(s, principal.tenant)
        return _page("password.html", principal, branding, 422, errors=errors)  # type: ignore[return-value]
    home = f"/portal/{principal.tenant.slug}/"
    return await start_session(
        request, state, principal.tenant, principal.subject, principal.kind, "password", home
    )


# ---------------------------------------------------------------------------------------------
# Branding assets (public: the sign-in page shows them too)


@get(
    "/style.css",
    guards=[requires(PUBLIC)],
    operation_id="portalStylesheet",
)
async def portal_stylesheet(current_tenant: NamedDependency[TenantRef]) -> Response[str]:
    async with tenant_session(current_tenant) as s:
        branding = await load_branding(s, current_tenant)
    variables = f":root{{--brand:{branding.primary_colour};--accent:{branding.accent_colour};}}\n"
    return Response(
        variables + CSS.read_text(),
        media_type="text/css",
        headers={"cache-control": "private, max-age=300"},
    )


@get(
    "/logo",
    guards=[requires(PUBLIC)],
    operation_id="portalLogo",
)
async def portal_logo(current_tenant: NamedDependency[TenantRef]) -> Response[bytes]:
    async with tenant_session(current_tenant) as s:
        found = await load_logo(s)
    if found is None:
        raise NotFoundException()
    data, media_type = found
    return Response(
        data,
        media_type=media_type,
        headers={"cache-control": "private, max-age=300", "content-disposition": "inline"},
    )


# ---------------------------------------------------------------------------------------------
# Pages


def _grain(raw: str | None) -> Grain:
    grain = raw or "week"
    if grain not in GRAINS:
        raise ValidationException("grain must be week or month")
    return grain  # type: ignore[return-value]


@get(
    "/",
    guards=[requires(PORTAL)],
    operation_id="portalHome",
)
async def portal_home(
    principal: NamedDependency[Principal], account: FromQuery[str | None] = None
) -> Template:
    _customer(principal)
    async with tenant_session(principal.tenant) as s:
        accounts, branding = await _reach(s, principal)
        pick_account(accounts, account)  # an account out of reach is 404, never a fallback
        view = await service.overview(s, accounts, _today())
    return _page("home.html", principal, branding, view=view, active="home")


@get(
    "/performance",
    guards=[requires(PORTAL)],
    operation_id="portalPerformance",
)
async def portal_performance(
    principal: NamedDependency[Principal],
    grain: FromQuery[str | None] = None,
    account: FromQuery[str | None] = None,
) -> Template:
    _customer(principal)
    chosen_grain = _grain(grain)
    async with tenant_session(principal.tenant) as s:
        accounts, branding = await _reach(s, principal)
        chosen = pick_account(accounts, account)
        data = await _performance(s, chosen, chosen_grain)
    charts = [chart_for(m, data["periods_obj"], data["targets"][m], chosen_grain) for m in MEASURES]
    return _page(
        "performance.html",
        principal,
        branding,
        accounts=accounts,
        account=chosen,
        grain=chosen_grain,
        periods=data["periods_obj"],
        targets=data["targets"],
        charts=charts,
        active="performance",
    )


async def _performance(s: AsyncSession, account: PortalAccount, grain: Grain) -> Any:
    today = _today()
    periods = await performance(s, account.code, grain, today)
    segments = await service.account_entitlements(s, account.code, today)
    return {"periods_obj": periods, "targets": service.targets_of(segments)}


@get(
    "/notices",
    guards=[requires(PORTAL)],
    operation_id="portalNotices",
)
async def portal_notices(
    principal: NamedDependency[Principal],
    account: FromQuery[str | None] = None,
    before: FromQuery[int | None] = None,
) -> Template:
    _customer(principal)
    async with tenant_session(principal.tenant) as s:
        accounts, branding = await _reach(s, principal)
        chosen = pick_account(accounts, account)
        notices = await service.account_notices(s, chosen.code, 50, before)
    return _page(
        "notices.html",
        principal,
        branding,
        accounts=accounts,
        account=chosen,
        notices=notices,
        more=notices[-1]["id"] if len(notices) == 50 else None,
        active="notices",
    )


async def _document_rows(
    principal: Principal, account: str | None
) -> tuple[PortalAccount, Branding, list[dict[str, Any]]]:
    async with tenant_session(principal.tenant) as s:
        accounts, branding = await _reach(s, principal)
        chosen = pick_account(accounts, account)
        segments = service.scrub(await service.account_entitlements(s, chosen.code, _today()))
    return chosen, branding, segments


@get(
    "/entitlements.csv",
    guards=[requires(PORTAL)],
    operation_id="portalEntitlementsCsv",
)
async def portal_entitlements_csv(
    principal: NamedDependency[Principal],
    account: FromQuery[str | None] = None,
) -> Response[bytes]:
    _customer(principal)
    chosen, _branding, segments = await _document_rows(principal, account)
    body = documents.entitlements_csv(chosen, segments, _today())
    return csv_download(body, f"entitlements-{chosen.code}.csv")


@get(
    "/entitlements.pdf",
    guards=[requires(PORTAL)],
    operation_id="portalEntitlementsPdf",
)
async def portal_entitlements_pdf(
    principal: NamedDependency[Principal],
    account: FromQuery[str | None] = None,
) -> Response[bytes]:
    _customer(principal)
    chosen, branding, segments = await _document_rows(principal, account)
    body = documents.entitlements_pdf(branding, chosen, segments, _today())
    return file_download(body, f"entitlements-{chosen.code}.pdf", PDF)


# ---------------------------------------------------------------------------------------------
# JSON API (tenant and customer from the credential; the path names neither)


@get(
    "/portal/entitlements",
    guards=[requires(PORTAL)],
    operation_id="portalEntitlements",
    summary="The caller's segments and entitlements, and the segments of its ship-tos",
    operation_class=query_parameters(
        account="An account below the caller's (a ship-to); default the caller's own."
    ),
)
async def api_entitlements(request: Request[Any, Any, Any]) -> Response[PortalOverviewOut]:
    """The caller's account with its segment in every customer scheme and the entitlements in
    force today (worded as customers read them), and the segments of the accounts below it."""
    # The principal straight from the guard (what ``SIGNED_IN`` provides), without dependency
    # injection: this is the portal's hottest route.
    principal = _customer(await provide_principal(request))
    today = _today()
    requested = request.query_params.get("account")
    if requested is not None and requested != principal.customer_code:
        # Another account named: it must be in the caller's reach (a ship-to), else 404.
        async with tenant_session(principal.tenant) as s:
            pick_account(await _accounts(s, principal), requested)
    # Cached per account and day as the finished response (encoded once, sent as often as it is
    # asked for); every committed change to what it is built from drops the tenant's entries
    # (``portal.cache``), so a hit is never older than the last commit.
    cache = portal_cache(request.app.state)
    key = ("entitlements", principal.customer_code, today.isoformat())
    token = None
    response: _PreparedJSON | None = None
    if cache is not None:
        response = cache.get(principal.tenant, key)
        if response is None:
            token = cache.token(principal.tenant)  # before reading: a change meanwhile voids it
    if response is None:
        async with tenant_session(principal.tenant) as s:
            accounts = await _accounts(s, principal)
            response = _PreparedJSON(encode_json(await service.overview(s, accounts, today)))
        if cache is not None:
            cache.put(principal.tenant, key, token, response)
    return cast("Response[PortalOverviewOut]", response)  # the bytes service.overview built


class _PreparedJSON(Response[bytes]):
    """A 200 JSON response whose ASGI form is built once and then sent unchanged: its body and
    headers are immutable, so concurrent requests can share it (the middleware adds per-request
    headers to a copy of the header list). Anything a route adds (headers, cookies, background
    work) or a HEAD request takes the ordinary path."""

    __slots__ = ("_asgi",)

    def __init__(self, body: bytes) -> None:
        super().__init__(body, media_type=MediaType.JSON)
        self._asgi = ASGIResponse(body=body, media_type=MediaType.JSON)

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: Any = None,
        cookies: Any = None,
        encoded_headers: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        if background or cookies or encoded_headers or headers or is_head_response:
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        return self._asgi


@get(
    "/portal/performance",
    guards=[requires(PORTAL)],
    operation_id="portalPerformanceApi",
    summary="Fill rate, OTIF, perfect order and lead time over 12 weeks or months, with targets",
)
async def api_performance(
    principal: NamedDependency[Principal],
    grain: Annotated[str | None, QueryParameter(description="week (default) or month.")] = None,
    account: Annotated[
        str | None, QueryParameter(description="An account below the caller's; default its own.")
    ] = None,
) -> Response[PortalPerformanceOut]:
    """Fill rate, OTIF, perfect order and average lead time of the account's order lines per
    week or month over the last twelve, with the targets its entitlements set."""
    _customer(principal)
    chosen_grain = _grain(grain)
    async with tenant_session(principal.tenant) as s:
        chosen = pick_account(await _accounts(s, principal), account)
        data = await _performance(s, chosen, chosen_grain)
    result: dict[str, Any] = service.scrub(
        {
            "account": chosen.code,
            "grain": chosen_grain,
            "targets": data["targets"],
            "periods": [p.as_dict() for p in data["periods_obj"]],
        }
    )
    return Response(result)  # type: ignore[arg-type]


@get(
    "/portal/notices",
    guards=[requires(PORTAL)],
    operation_id="portalNoticesApi",
    summary="The caller's notices, newest first",
    dependencies=PAGED,
)
async def api_notices(
    principal: NamedDependency[Principal],
    page: PageRequest,
    account: Annotated[
        str | None, QueryParameter(description="An account below the caller's; default its own.")
    ] = None,
) -> Response[PortalNoticesOut]:
    """The account's notices (segment changes with the entitlements before and after),
    newest first."""
    _customer(principal)
    position = page.position()
    if position is not None and not isinstance(position[0], int):
        raise InvalidCursor("cursor: not a cursor this API returned")
    size = min(page.limit, 200)
    async with tenant_session(principal.tenant) as s:
        chosen = pick_account(await _accounts(s, principal), account)
        notices = await service.account_notices(
            s, chosen.code, size + 1, int(position[0]) if position else None
        )
    more = len(notices) > size
    notices = notices[:size]
    following = encode_cursor((notices[-1]["id"],)) if more and notices else None
    body = {"account": chosen.code, "notices": notices, "next_cursor": following}
    return Response(body)  # type: ignore[arg-type]


async def _branding(tenant: TenantRef) -> dict[str, Any]:
    async with tenant_session(tenant) as s:
        return {"branding": await load_branding(s, tenant)}


RESET_PAGES = ResetSurface(
    "/portal", "portal/forgot.html", "portal/reset.html", _branding, "portal"
)

ROUTES = [
    PortalPages(
        portal_login_page,
        portal_login,
        portal_logout,
        portal_password_page,
        portal_change_password,
        portal_stylesheet,
        portal_logo,
        portal_home,
        portal_performance,
        portal_notices,
        portal_entitlements_csv,
        portal_entitlements_pdf,
        *reset_handlers(RESET_PAGES),
    ),
    Api(api_entitlements, api_performance, api_notices),
]
