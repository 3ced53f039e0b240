"""Helpers for the single sign-on tests (staff: ``tests/platform/test_sso.py``, customer portal:
``tests/portal/test_portal_sso.py``): configuring a tenant's provider, scripting the browser
dance with httpx (Tierline → the test provider's /authorize → Tierline's callback, carrying
Tierline's cookies), and reading back users and audit rows. The provider itself is the
``idp`` fixture in ``tests/conftest.py`` (``tests/support/oidc_provider.py``)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import select

from tests.support.oidc_provider import OidcTestProvider, RegisteredClient
from tierline.platform.audit.models import AuditLog
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity import oidc
from tierline.platform.identity.models import RoleGrant, User
from tierline.platform.identity.users import SYSTEM
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session

DOMAIN = "acme.example"
# One TLS context for every provider-side client: building one (loading the CA bundle) costs
# tens of milliseconds, and httpx builds a new one per client otherwise.
_TLS = ssl.create_default_context()


async def configure(
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    auth_method: str = "client_secret_basic",
    **overrides: str,
) -> RegisteredClient:
    """Register Tierline at the provider with both redirect URIs (staff and portal callbacks,
    as the admin page says) and save the tenant's SSO settings (service layer)."""
    registered = idp.register_client(oidc.callback_url(settings.base_url, tenant), auth_method)
    registered.redirect_uris.append(oidc.portal_callback_url(settings.base_url, tenant))
    form = {
        "name": "Acme SSO",
        "issuer": idp.issuer,
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "allowed_domains": f"{DOMAIN}, example.com",
        "role_claim": "groups",
        "role_mapping": "tl-planners = planner\ntl-admins = admin",
        "default_role": "",
        "enabled": "1",
        **overrides,
    }
    codec = await load_codec(tenant, kms_from_settings(settings))
    async with tenant_session(tenant) as s:
        existing = await oidc.get_provider(s)
        checked = oidc.validate_settings(form, has_secret=existing is not None)
        await oidc.save_provider(s, codec, checked, SYSTEM)
    return registered


def login_path(tenant: TenantRef, flow: str = oidc.STAFF_FLOW) -> str:
    return f"{oidc.sso_path(tenant, flow)}/login"


async def start(
    client: httpx.AsyncClient, tenant: TenantRef, query: str = "", path: str | None = None
) -> str:
    """Tierline's SSO start (the staff /sso/login unless ``path``): returns the provider
    authorization URL it redirects to."""
    resp = await client.get(f"{path or login_path(tenant)}{query}")
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


async def authorize(settings: Settings, url: str) -> str:
    """The provider's /authorize (auto-approved): returns Tierline's callback path and query."""
    async with httpx.AsyncClient(verify=_TLS) as provider_side:
        resp = await provider_side.get(url)
    assert resp.status_code == 302, resp.text
    back = urlsplit(resp.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == settings.base_url
    return f"{back.path}?{back.query}"


async def sso_sign_in(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, path: str | None = None
) -> httpx.Response:
    """The whole dance from ``path`` (default: the staff /sso/login) to the callback's answer."""
    callback = await authorize(settings, await start(client, tenant, path=path))
    return await client.get(callback)


async def audit(tenant: TenantRef, action: str) -> list[AuditLog]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.seq)
        )
        return list(rows.scalars())


async def users_of(tenant: TenantRef) -> list[User]:
    async with tenant_session(tenant) as s:
        return list((await s.execute(select(User).order_by(User.email))).scalars())


async def roles_of(tenant: TenantRef, user_id: Any) -> set[tuple[str, str]]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(RoleGrant.role, RoleGrant.scope).where(RoleGrant.user_id == user_id)
        )
        return {(r, sc) for r, sc in rows}


def with_query(path_and_query: str, **changes: str) -> str:
    path, _, query = path_and_query.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    params.update(changes)
    return f"{path}?{urlencode(params)}"


async def assert_refused(
    resp: httpx.Response,
    tenant: TenantRef,
    status: int,
    reason_part: str,
    after: dict[str, str] | None = None,
) -> None:
    """A friendly refusal page, no session, and the reason audited (``after``: the audit
    row's details, ``{"method": "sso"}`` for the staff flow)."""
    assert resp.status_code == status, resp.text
    assert "Single sign-on did not work" in resp.text and "Traceback" not in resp.text
    assert "tl_session" not in resp.cookies
    failures = await audit(tenant, "auth.login_failed")
    assert failures, "the refusal was not audited"
    assert reason_part in (failures[-1].reason or ""), failures[-1].reason
    assert failures[-1].after == (after or {"method": "sso"})
