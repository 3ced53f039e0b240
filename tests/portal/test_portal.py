"""The portal as a customer user sees it: sign-in, entitlements, performance, notices,
documents; invitations by account managers; branding by admins."""

from __future__ import annotations

import re
import struct
import zlib

import httpx
import msgspec
import pytest

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.portal.fixtures import SECRET_MARKER, PortalData, build_portal_tenant
from tierline.platform.tenancy import TenantRef
from tierline.portal.branding import BrandingError, check_colour, contrast_with_white, sniff_logo
from tierline.portal.performance import period_starts
from tierline.portal.schemas import PortalNoticesOut, PortalOverviewOut, PortalPerformanceOut


async def portal_sign_in(
    client: httpx.AsyncClient, tenant: TenantRef, email: str, password: str
) -> httpx.Response:
    page = await client.get(f"/portal/{tenant.slug}/login")
    assert page.status_code == 200
    return await client.post(
        f"/portal/{tenant.slug}/login",
        data={"email": email, "password": password, "_csrf": csrf_of(page.text)},
    )


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    tenant = await make_tenant(name="Acme Supply")
    return await build_portal_tenant(tenant)


async def _customer(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData, code: str = "P1"
) -> None:
    user = await make_staff(portal.tenant, "customer", customer=code)
    response = await portal_sign_in(client, portal.tenant, user.email, user.password)
    assert response.status_code == 303
    assert response.headers["location"] == f"/portal/{portal.tenant.slug}/"


async def test_customer_sees_own_segment_entitlements_and_ship_tos(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _customer(client, make_staff, portal)
    slug = portal.tenant.slug
    home = await client.get(f"/portal/{slug}/")
    assert home.status_code == 200, home.text
    text = home.text
    assert "Pella Holdings" in text and "A customers" in text
    assert "Pella North" in text and "Pella South" in text
    assert "Quarto" not in text and "Q1S" not in text
    assert 'class="skip"' in text and f"/portal/{slug}/style.css" in text
    api = (await client.get("/api/v1/portal/entitlements")).json()
    assert msgspec.convert(api, PortalOverviewOut).account.code == "P1"  # what is documented
    seg = api["segments"][0]
    items = {i["key"]: i for i in seg["entitlements"]["items"]}
    assert seg["segment"] == "A" and items["fill_rate"]["value"] == 98.0
    assert items["fill_rate"]["text"] == "98%" and "taxonomy_code" not in items
    assert {a["code"] for a in api["accounts_below"]} == {"S1", "S2"}


async def test_performance_measures_and_targets(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _customer(client, make_staff, portal)
    body = (await client.get("/api/v1/portal/performance?account=S1")).json()
    documented = msgspec.convert(body, PortalPerformanceOut, strict=True)
    assert documented.account == "S1" and any(p.targets for p in documented.periods)
    assert body["account"] == "S1" and len(body["periods"]) == 12
    assert body["targets"]["fill_rate"] == pytest.approx(0.95)
    assert body["targets"]["lead_time_days"] == 4
    filled = [p for p in body["periods"] if p["lines"]]
    assert filled and all(0 <= p["fill_rate"] <= 1 for p in filled)
    assert 15 <= sum(p["lines"] for p in body["periods"]) <= 20  # S1's lines in 12 weeks
    monthly = (await client.get("/api/v1/portal/performance?grain=month")).json()
    assert monthly["grain"] == "month" and sum(p["lines"] for p in monthly["periods"]) == 20
    page = await client.get(f"/portal/{portal.tenant.slug}/performance?account=S1&grain=week")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and "<table" in page.text and 'class="target"' in page.text
    assert (await client.get("/api/v1/portal/performance?grain=year")).status_code == 400


def test_period_starts_are_mondays_and_months() -> None:
    from datetime import date

    weeks = period_starts("week", date(2026, 3, 4))
    assert (
        len(weeks) == 12 and all(d.weekday() == 0 for d in weeks) and weeks[-1] == date(2026, 3, 2)
    )
    months = period_starts("month", date(2026, 3, 4))
    assert months[0] == date(2025, 4, 1) and months[-1] == date(2026, 3, 1)


async def test_notices_and_documents(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _customer(client, make_staff, portal)
    slug = portal.tenant.slug
    answer = (await client.get("/api/v1/portal/notices")).json()
    assert msgspec.convert(answer, PortalNoticesOut).next_cursor is None  # what is documented
    notices = answer["notices"]
    assert len(notices) == 1 and notices[0]["new_segment"] == "A"
    page = await client.get(f"/portal/{slug}/notices")
    assert page.status_code == 200 and notices[0]["title"] in page.text
    csv_body = await client.get(f"/portal/{slug}/entitlements.csv")
    assert csv_body.status_code == 200
    assert csv_body.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_body.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    assert "Fill rate,98%" in csv_body.text
    pdf = await client.get(f"/portal/{slug}/entitlements.pdf?account=S1")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_csv_cells_are_formula_safe(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    from sqlalchemy import update

    from tierline.masterdata.models import Customer
    from tierline.platform.tenancy import tenant_session

    async with tenant_session(portal.tenant) as s:
        await s.execute(update(Customer).where(Customer.code == "S2").values(name="=1+2 South"))
    await _customer(client, make_staff, portal)
    body = (await client.get(f"/portal/{portal.tenant.slug}/entitlements.csv?account=S2")).text
    assert "'=1+2 South" in body and ",=1+2" not in body


async def test_staff_login_page_is_separate_and_staff_signing_in_here_goes_to_staff_home(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    admin = await make_staff(portal.tenant, "admin")
    response = await portal_sign_in(client, portal.tenant, admin.email, admin.password)
    assert response.headers["location"] == f"/t/{portal.tenant.slug}/"
    # ...and the portal stays closed to it (the portal is for customer users only)
    assert (await client.get(f"/portal/{portal.tenant.slug}/")).status_code == 404


async def test_wrong_password_and_signed_out_redirect(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    user = await make_staff(portal.tenant, "customer", customer="P1")
    bad = await portal_sign_in(client, portal.tenant, user.email, "nope nope nope")
    assert bad.status_code == 401 and "incorrect" in bad.text
    away = await client.get(f"/portal/{portal.tenant.slug}/performance")
    assert away.status_code in (302, 303)
    assert away.headers["location"].startswith(f"/portal/{portal.tenant.slug}/login")


async def test_a_one_time_password_opens_only_the_password_page(
    client: httpx.AsyncClient, portal: PortalData
) -> None:
    from tierline.platform.identity.users import SYSTEM, create_user
    from tierline.platform.tenancy import tenant_session

    async with tenant_session(portal.tenant) as s:
        created = await create_user(
            s,
            email="buyer@pella.example",
            role="customer",
            actor=SYSTEM,
            kind="customer",
            customer_code="P1",
        )
    otp = created.one_time_password
    assert otp
    slug = portal.tenant.slug
    signed_in = await portal_sign_in(client, portal.tenant, "buyer@pella.example", otp)
    assert signed_in.headers["location"] == f"/portal/{slug}/account/password"
    for page in ("/", "/performance", "/notices", "/entitlements.csv"):
        blocked = await client.get(f"/portal/{slug}{page}")
        assert blocked.status_code == 303, page
        assert blocked.headers["location"] == f"/portal/{slug}/account/password"
    api = await client.get("/api/v1/portal/entitlements")
    assert api.status_code == 403 and "one-time password" in api.json()["detail"]
    form = await client.get(f"/portal/{slug}/account/password")
    assert form.status_code == 200 and "Change your password" in form.text
    wrong = await client.post(
        f"/portal/{slug}/account/password",
        data={
            "current": "not it",
            "new": "a long new secret 1",
            "repeat": "a long new secret 1",
            "_csrf": csrf_of(form.text),
        },
    )
    assert wrong.status_code == 422 and "not right" in wrong.text
    changed = await client.post(
        f"/portal/{slug}/account/password",
        data={
            "current": otp,
            "new": "a long new secret 1",
            "repeat": "a long new secret 1",
            "_csrf": csrf_of(wrong.text),
        },
    )
    assert changed.status_code == 303 and changed.headers["location"] == f"/portal/{slug}/"
    assert (await client.get(f"/portal/{slug}/")).status_code == 200
    assert (await client.get("/api/v1/portal/entitlements")).status_code == 200


async def test_account_manager_invites_customer_user_who_lands_in_the_portal(
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
    portal: PortalData,
    app: object,
) -> None:
    slug = portal.tenant.slug
    manager = await make_staff(portal.tenant, "account_manager")
    await sign_in(client, manager)
    page = await client.get(f"/t/{slug}/portal-users")
    assert page.status_code == 200
    bad = await client.post(
        f"/t/{slug}/portal-users",
        data={"email": "x@cust.example", "customer_code": "NOPE", "_csrf": csrf_of(page.text)},
    )
    assert "no customer account" in httpx.URL(bad.headers["location"]).params["error"]
    done = await client.post(
        f"/t/{slug}/portal-users",
        data={"email": "buyer@cust.example", "customer_code": "S1", "_csrf": csrf_of(page.text)},
    )
    message = httpx.URL(done.headers["location"]).params["done"]
    token = re.search(r"/invitation/(\S+)$", message).group(1)  # type: ignore[union-attr]
    listing = await client.get(f"/t/{slug}/portal-users")
    assert "buyer@cust.example" in listing.text and "invited" in listing.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        invitation = await c2.get(f"/t/{slug}/invitation/{token}")
        accepted = await c2.post(
            f"/t/{slug}/invitation/{token}",
            data={
                "new": "a long enough passphrase 42",
                "repeat": "a long enough passphrase 42",
                "_csrf": csrf_of(invitation.text),
            },
        )
        assert accepted.status_code == 303 and accepted.headers["location"] == f"/portal/{slug}/"
        api = (await c2.get("/api/v1/portal/entitlements")).json()
        assert api["account"]["code"] == "S1" and api["accounts_below"] == []
        user_id = re.search(r"/portal-users/([0-9a-f-]{36})/revoke", listing.text).group(1)  # type: ignore[union-attr]
        revoked = await client.post(
            f"/t/{slug}/portal-users/{user_id}/revoke", data={"_csrf": csrf_of(listing.text)}
        )
        assert "revoked" in httpx.URL(revoked.headers["location"]).params["done"]
        assert (await c2.get("/api/v1/portal/entitlements")).status_code == 401


async def test_scoped_account_manager_cannot_invite_outside_scope(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    manager = await make_staff(portal.tenant, "account_manager", scope="emea")
    await sign_in(client, manager)
    page = await client.get(f"/t/{portal.tenant.slug}/portal-users")
    refused = await client.post(
        f"/t/{portal.tenant.slug}/portal-users",
        data={"email": "y@cust.example", "customer_code": "S1", "_csrf": csrf_of(page.text)},
    )
    assert "no customer account" in httpx.URL(refused.headers["location"]).params["error"]


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def test_colour_and_logo_rules() -> None:
    assert contrast_with_white("#1f4e79") > 4.5
    with pytest.raises(BrandingError, match="too light"):
        check_colour("#ffee00", "The primary colour")
    with pytest.raises(BrandingError):
        check_colour("red", "The primary colour")
    assert sniff_logo(_png()) == "image/png"
    with pytest.raises(BrandingError, match="SVG"):
        sniff_logo(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    with pytest.raises(BrandingError, match="256 KB"):
        sniff_logo(b"\x89PNG\r\n\x1a\n" + b"0" * 300_000)


async def test_admin_brands_the_portal(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    slug = portal.tenant.slug
    admin = await make_staff(portal.tenant, "admin")
    await sign_in(client, admin)
    page = await client.get(f"/t/{slug}/portal-branding")
    assert page.status_code == 200
    fields = {
        "display_name": "Acme Service Portal",
        "primary_colour": "#ffff00",
        "accent_colour": "#0b6e4f",
        "support_email": "help@acme.example",
        "_csrf": csrf_of(page.text),
    }
    refused = await client.post(f"/t/{slug}/portal-branding", data=fields)
    assert refused.status_code == 422 and "too light" in refused.text
    svg = await client.post(
        f"/t/{slug}/portal-branding",
        data={**fields, "primary_colour": "#123456"},
        files={"logo": ("x.svg", b"<svg/>", "image/svg+xml")},
    )
    assert svg.status_code == 422
    saved = await client.post(
        f"/t/{slug}/portal-branding",
        data={**fields, "primary_colour": "#123456"},
        files={"logo": ("logo.png", _png(), "image/png")},
    )
    assert saved.status_code == 200 and "saved" in saved.text
    css = await client.get(f"/portal/{slug}/style.css")
    assert "--brand:#123456" in css.text
    logo = await client.get(f"/portal/{slug}/logo")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    login = await client.get(f"/portal/{slug}/login")
    assert "Acme Service Portal" in login.text and "help@acme.example" in login.text
    # an account manager may not brand (users:manage)
    manager = await make_staff(portal.tenant, "account_manager")
    await sign_in(client, manager)
    assert (await client.get(f"/t/{slug}/portal-branding")).status_code == 403


async def test_no_secret_or_money_in_any_portal_response(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    await _customer(client, make_staff, portal)
    slug = portal.tenant.slug
    paths = [
        f"/portal/{slug}/",
        f"/portal/{slug}/performance",
        f"/portal/{slug}/performance?account=S1",
        f"/portal/{slug}/notices",
        f"/portal/{slug}/entitlements.csv",
        "/api/v1/portal/entitlements",
        "/api/v1/portal/performance?account=S1",
        "/api/v1/portal/notices",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        body = response.text.lower()
        assert SECRET_MARKER.lower() not in body, path
        for word in ("margin", "revenue", "cost", "internal", "price"):
            assert word not in body, (path, word)
