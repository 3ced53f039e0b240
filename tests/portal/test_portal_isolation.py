"""Attacks on the portal: other accounts, other tenants, staff pages. Every refusal is 404
(no existence oracle), and a portal session never opens a staff page or staff API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.portal.fixtures import PortalData, build_portal_tenant
from tests.portal.test_portal import portal_sign_in


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Acme Supply"))


@pytest.fixture
async def other(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Other Corp"))


async def _as_customer(
    client: httpx.AsyncClient, make_staff: StaffFactory, data: PortalData, code: str
) -> None:
    user = await make_staff(data.tenant, "customer", customer=code)
    assert (await portal_sign_in(client, data.tenant, user.email, user.password)).status_code == 303


@pytest.mark.parametrize("foreign", ["Q1", "Q1S", "P9", "S1' OR '1'='1"])
async def test_other_account_of_the_same_tenant_is_404_everywhere(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, foreign: str
) -> None:
    await _as_customer(client, make_staff, portal, "P1")
    slug = portal.tenant.slug
    params = {"account": foreign}
    for path in (
        f"/portal/{slug}/",
        "/api/v1/portal/entitlements",
        f"/portal/{slug}/performance",
        f"/portal/{slug}/notices",
        f"/portal/{slug}/entitlements.csv",
        f"/portal/{slug}/entitlements.pdf",
        "/api/v1/portal/performance",
        "/api/v1/portal/notices",
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 404, (path, response.status_code)
        assert "Quarto" not in response.text


async def test_ship_to_user_cannot_climb_to_its_parent_or_sibling(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _as_customer(client, make_staff, portal, "S1")
    for code in ("P1", "S2"):
        response = await client.get("/api/v1/portal/performance", params={"account": code})
        assert response.status_code == 404
    for code in ("P1", "S2"):
        assert (
            await client.get(f"/portal/{portal.tenant.slug}/", params={"account": code})
        ).status_code == 404
        assert (
            await client.get("/api/v1/portal/entitlements", params={"account": code})
        ).status_code == 404
    own = await client.get("/api/v1/portal/entitlements", params={"account": "S1"})
    assert own.status_code == 200
    body = (await client.get("/api/v1/portal/entitlements")).json()
    assert body["account"]["code"] == "S1" and body["accounts_below"] == []
    assert body["account"]["parent_code"] is None  # not even the parent's code


async def test_customer_of_one_tenant_gets_404_on_another_tenants_portal(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, other: PortalData
) -> None:
    await _as_customer(client, make_staff, portal, "P1")
    for path in ("/", "/performance", "/notices", "/entitlements.csv"):
        assert (await client.get(f"/portal/{other.tenant.slug}{path}")).status_code == 404
    assert (await client.get("/portal/no_such_tenant/")).status_code == 404
    # the API takes the tenant from the session: it answers for the caller's own tenant only
    body = (await client.get("/api/v1/portal/entitlements")).json()
    assert body["account"]["name"] == "Pella Holdings"


async def test_staff_sessions_do_not_open_any_portal(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, other: PortalData
) -> None:
    admin = await make_staff(portal.tenant, "admin")
    await sign_in(client, admin)
    assert (await client.get(f"/t/{portal.tenant.slug}/")).status_code == 200
    for slug in (other.tenant.slug, portal.tenant.slug):
        for path in ("/", "/performance", "/notices", "/entitlements.pdf"):
            response = await client.get(f"/portal/{slug}{path}")
            assert response.status_code == 404, (slug, path)
    for path in ("/api/v1/portal/entitlements", "/api/v1/portal/performance"):
        assert (await client.get(path)).status_code == 404


async def test_portal_session_never_reaches_staff_pages_or_apis(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _as_customer(client, make_staff, portal, "P1")
    slug = portal.tenant.slug
    for path in (
        f"/t/{slug}/",
        f"/t/{slug}/portal-users",
        f"/t/{slug}/portal-branding",
        f"/t/{slug}/admin/users",
        f"/t/{slug}/account/password",
        "/api/v1/customers",
        "/api/v1/customers/Q1",
        "/api/v1/products",
    ):
        response = await client.get(path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert "Quarto" not in response.text
    page = await client.get(f"/portal/{slug}/")
    from tests.conftest import csrf_of

    csrf = csrf_of(page.text)
    posted = await client.post(
        f"/t/{slug}/portal-users",
        data={"email": "evil@x.example", "customer_code": "Q1", "_csrf": csrf},
    )
    assert posted.status_code in (403, 404)


async def test_portal_writes_need_the_session_csrf_token(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _as_customer(client, make_staff, portal, "P1")
    refused = await client.post(f"/portal/{portal.tenant.slug}/logout", data={"_csrf": "forged"})
    assert refused.status_code == 403
    assert (await client.get(f"/portal/{portal.tenant.slug}/")).status_code == 200


async def test_customer_user_at_the_staff_sign_in_lands_in_the_portal(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    tenant = await make_tenant()
    user = await make_staff(tenant, "customer", customer="P1")
    page = await client.get(f"/t/{tenant.slug}/login")
    response = await client.post(
        f"/t/{tenant.slug}/login",
        data={"email": user.email, "password": user.password, "_csrf": csrf_of(page.text)},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/portal/{tenant.slug}/"
