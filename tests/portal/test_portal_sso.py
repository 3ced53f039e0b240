"""Single sign-on for customer (portal) users, against the same real OpenID provider on loopback
as the staff SSO tests (``tests/support/oidc_provider.py``), with real PostgreSQL and Redis.

Customer users are never created by single sign-on: an existing one is found by subject or
linked by verified e-mail, or an open invitation is accepted with the invited e-mail. The
session started is an ordinary portal session, so every portal isolation rule applies."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import update

from tests.conftest import Staff, StaffFactory, TenantFactory, csrf_of
from tests.portal.fixtures import PortalData, build_portal_tenant
from tests.portal.test_portal import portal_sign_in
from tests.support.oidc_provider import IdpUser, OidcTestProvider
from tests.support.sso import (
    assert_refused,
    audit,
    authorize,
    configure,
    login_path,
    roles_of,
    sso_sign_in,
    start,
    users_of,
)
from tierline.platform import access
from tierline.platform.db import utcnow
from tierline.platform.identity import oidc
from tierline.platform.identity.models import User
from tierline.platform.identity.users import SYSTEM, Actor, create_user
from tierline.platform.routing import declared_paths
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.portal import sso_controllers
from tierline.portal.invitations import invite_portal_user, revoke_portal_user

PORTAL = {"method": "sso", "flow": "portal"}  # what a portal refusal's audit row says
MANAGER = Actor("manager@acme.example")
INVITED = "buyer@cust.example"  # a customer's own domain: not in the provider's allowed domains


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    return await build_portal_tenant(await make_tenant(name="Acme Supply"))


def portal_login(tenant: TenantRef) -> str:
    return login_path(tenant, oidc.PORTAL_FLOW)


def invitation_start(tenant: TenantRef, token: str) -> str:
    return f"/portal/{tenant.slug}/sso/invitation/{token}"


async def invite(tenant: TenantRef, email: str = INVITED, code: str = "S1") -> str:
    """An account manager's invitation for a customer user of ``code``: the link's token."""
    async with tenant_session(tenant) as s:
        created = await invite_portal_user(
            s, email=email, customer_code=code, scopes=None, actor=MANAGER
        )
    assert created.invitation_token is not None
    return created.invitation_token


async def user_by_email(tenant: TenantRef, email: str) -> User:
    [user] = [u for u in await users_of(tenant) if u.email == email]
    return user


async def assert_portal_isolation(client: httpx.AsyncClient, data: PortalData, own: str) -> None:
    """A portal session: its own account only, 404 for other accounts, staff pages and other
    tenants' portals."""
    slug = data.tenant.slug
    body = (await client.get("/api/v1/portal/entitlements")).json()
    assert body["account"]["code"] == own
    for path in (
        "/api/v1/portal/performance?account=Q1",
        f"/portal/{slug}/entitlements.csv?account=Q1",
        f"/portal/{slug}/notices?account=Q1S",
        f"/t/{slug}/",
        f"/t/{slug}/admin/users",
        f"/t/{slug}/portal-users",
    ):
        response = await client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "Quarto" not in response.text


# ---------------------------------------------------------------------------------------------
# The sign-in page and the routes


async def test_login_page_offers_the_provider_only_while_it_is_enabled(
    client: httpx.AsyncClient, settings: Settings, portal: PortalData, idp: OidcTestProvider
) -> None:
    url = f"/portal/{portal.tenant.slug}/login"
    assert "Sign in with" not in (await client.get(url)).text
    await configure(settings, portal.tenant, idp)
    page = await client.get(url + f"?next=/portal/{portal.tenant.slug}/notices")
    assert page.status_code == 200
    # A plain link (keyboard reachable, no JavaScript), labelled with the provider's name,
    # carrying the page's next path; the password form stays as it was.
    href = (
        f'href="/portal/{portal.tenant.slug}/sso/login?next=/portal/{portal.tenant.slug}/notices"'
    )
    assert href in page.text and ">Sign in with Acme SSO</a>" in page.text
    assert 'for="email"' in page.text and 'for="password"' in page.text
    await configure(settings, portal.tenant, idp, enabled="")
    assert "Sign in with" not in (await client.get(url)).text


def test_portal_sso_routes_are_public_like_the_portal_sign_in() -> None:
    declared = {
        path: access.declared_permission(handler)
        for path, handler in declared_paths(sso_controllers.ROUTES)
    }
    assert declared == {
        "/portal/{tenant:str}/sso/login": access.PUBLIC,
        "/portal/{tenant:str}/sso/invitation/{token:str}": access.PUBLIC,
        "/portal/{tenant:str}/sso/callback": access.PUBLIC,
    }


async def test_routes_are_mounted_and_answer_404_for_an_unknown_tenant(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    mounted = {route.path for route in app.routes}
    assert {"/portal/{tenant:str}/sso/login", "/portal/{tenant:str}/sso/callback"} <= mounted
    assert (await client.get("/portal/no_such_tenant/sso/login")).status_code == 404
    assert (await client.get("/portal/no_such_tenant/sso/callback?state=x")).status_code == 404


async def test_provider_not_configured_is_refused_on_a_branded_page(
    client: httpx.AsyncClient, portal: PortalData
) -> None:
    resp = await client.get(portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 404, "not configured", PORTAL)
    assert f'href="/portal/{portal.tenant.slug}/login"' in resp.text  # back to the portal
    assert f"/portal/{portal.tenant.slug}/style.css" in resp.text


# ---------------------------------------------------------------------------------------------
# Existing customer users: linked by e-mail, then found by subject


async def test_customer_is_linked_by_email_then_found_by_subject(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="cust-7", email=customer.email.upper(), groups=["tl-admins"])

    url = await start(client, portal.tenant, path=portal_login(portal.tenant))
    binding = next(c for c in client.cookies.jar if c.name == "tl_sso")
    assert binding.path == f"/portal/{portal.tenant.slug}/sso/"
    sent = parse_qs(urlsplit(url).query)
    assert sent["redirect_uri"] == [oidc.portal_callback_url(settings.base_url, portal.tenant)]
    first = await client.get(await authorize(settings, url))
    assert first.status_code == 303, first.text
    assert first.headers["location"] == f"/portal/{portal.tenant.slug}/"
    assert "tl_session" in client.cookies
    home = await client.get(f"/portal/{portal.tenant.slug}/")
    assert home.status_code == 200 and "Pella Holdings" in home.text and "Quarto" not in home.text

    user = await user_by_email(portal.tenant, customer.email)
    assert user.sso_subject == f"{idp.issuer}|cust-7" and user.kind == "customer"
    [linked] = await audit(portal.tenant, "users.sso_linked")
    assert linked.object_id == customer.user_id and linked.after == {
        "sso_subject": f"{idp.issuer}|cust-7"
    }
    assert len(await users_of(portal.tenant)) == 1  # nobody created
    assert await roles_of(portal.tenant, user.id) == {("customer", "*")}  # no claim roles

    # Later, from another browser, with another e-mail at the provider: found by subject.
    idp.user = IdpUser(sub="cust-7", email="renamed@elsewhere.example")
    second = await sso_sign_in(browser, settings, portal.tenant, portal_login(portal.tenant))
    assert second.status_code == 303, second.text
    body = (await browser.get("/api/v1/portal/entitlements")).json()
    assert body["account"]["code"] == "P1"
    assert len(await audit(portal.tenant, "users.sso_linked")) == 1
    logins = await audit(portal.tenant, "auth.login")
    assert [(row.object_id, row.after) for row in logins] == [
        (customer.user_id, {"method": "sso"}),
        (customer.user_id, {"method": "sso"}),
    ]


async def test_portal_sso_session_is_an_ordinary_portal_session(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    make_tenant: TenantFactory,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    other = await build_portal_tenant(await make_tenant(name="Other Corp"))
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="S1")
    idp.user = IdpUser(sub="s1-user", email=customer.email)
    resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    assert resp.status_code == 303, resp.text
    await assert_portal_isolation(client, portal, "S1")
    for code in ("P1", "S2"):  # its parent and sibling are other customers' accounts
        refused = await client.get("/api/v1/portal/performance", params={"account": code})
        assert refused.status_code == 404
    assert (await client.get(f"/portal/{other.tenant.slug}/")).status_code == 404
    # Sign-out works as for a password session.
    home = await client.get(f"/portal/{portal.tenant.slug}/")
    out = await client.post(
        f"/portal/{portal.tenant.slug}/logout", data={"_csrf": csrf_of(home.text)}
    )
    assert out.status_code == 303
    assert (await client.get("/api/v1/portal/entitlements")).status_code == 401


async def test_next_path_is_followed_within_the_portal_only(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="next-1", email=customer.email)
    slug = portal.tenant.slug
    for asked, landed in (
        (f"/portal/{slug}/notices", f"/portal/{slug}/notices"),
        ("https://evil.example/", f"/portal/{slug}/"),
        (f"/t/{slug}/admin/users", f"/portal/{slug}/"),
    ):
        url = await start(client, portal.tenant, f"?next={asked}", portal_login(portal.tenant))
        resp = await client.get(await authorize(settings, url))
        assert resp.headers["location"] == landed


# ---------------------------------------------------------------------------------------------
# Refusals


async def test_staff_account_is_refused_at_the_portal_and_pointed_to_staff_sign_in(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    admin = await make_staff(portal.tenant, "admin")
    idp.user = IdpUser(sub="admin-1", email=admin.email, groups=["tl-admins"])
    resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 403, "staff account", PORTAL)
    assert f"{settings.base_url}/t/{portal.tenant.slug}/login" in resp.text
    [user] = await users_of(portal.tenant)
    assert user.sso_subject is None  # not linked
    assert await audit(portal.tenant, "auth.login") == []


async def test_customer_is_refused_at_staff_sso_with_the_portal_sign_in(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="c-staff", email=customer.email)
    resp = await sso_sign_in(client, settings, portal.tenant)
    await assert_refused(resp, portal.tenant, 403, "customer account")
    portal_url = f"{settings.base_url}/portal/{portal.tenant.slug}/login"
    assert "customer portal" in resp.text
    assert f'href="{portal_url}"' in resp.text
    assert (await user_by_email(portal.tenant, customer.email)).sso_subject is None
    # The same person through the portal is let in.
    resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    assert resp.status_code == 303 and resp.headers["location"] == f"/portal/{portal.tenant.slug}/"


async def test_unknown_email_is_refused_and_nobody_is_created(
    client: httpx.AsyncClient, settings: Settings, portal: PortalData, idp: OidcTestProvider
) -> None:
    # In an allowed domain, with mapped roles and a default role: still no just-in-time account.
    await configure(settings, portal.tenant, idp, default_role="analyst")
    idp.user = IdpUser(sub="new-1", email="newcomer@acme.example", groups=["tl-planners"])
    resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 403, "no customer user", PORTAL)
    assert "Ask your account manager for an invitation" in resp.text
    assert await users_of(portal.tenant) == []
    assert (await audit(portal.tenant, "auth.login_failed"))[-1].actor == "newcomer@acme.example"


async def test_unverified_email_is_refused_and_not_linked(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    for verified in (False, None, "false"):
        idp.user = IdpUser(sub="unverified", email=customer.email, email_verified=verified)
        resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
        await assert_refused(resp, portal.tenant, 403, "e-mail not verified", PORTAL)
    assert "not verified" in resp.text
    assert (await user_by_email(portal.tenant, customer.email)).sso_subject is None


async def test_revoked_customer_is_refused_even_once_linked(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    linked = await make_staff(portal.tenant, "customer", customer="P1")
    never = await make_staff(portal.tenant, "customer", customer="Q1")
    idp.user = IdpUser(sub="linked-1", email=linked.email)
    assert (
        await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    ).status_code == 303
    async with tenant_session(portal.tenant) as s:
        for person in (linked, never):
            await revoke_portal_user(s, person.user_id, None, MANAGER)

    # By subject (already linked) and by e-mail (not yet linked): both refused.
    resp = await sso_sign_in(browser, settings, portal.tenant, portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 403, "account disabled", PORTAL)
    assert "Contact your account manager" in resp.text
    idp.user = IdpUser(sub="never-1", email=never.email)
    resp = await sso_sign_in(browser, settings, portal.tenant, portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 403, "account disabled", PORTAL)
    assert (await user_by_email(portal.tenant, never.email)).sso_subject is None
    assert "tl_session" not in browser.cookies


async def test_invited_user_who_has_not_accepted_is_sent_to_the_invitation(
    client: httpx.AsyncClient, settings: Settings, portal: PortalData, idp: OidcTestProvider
) -> None:
    await configure(settings, portal.tenant, idp)
    await invite(portal.tenant)
    idp.user = IdpUser(sub="early-1", email=INVITED)
    resp = await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    await assert_refused(resp, portal.tenant, 403, "invitation not accepted yet", PORTAL)
    assert "invitation link" in resp.text
    user = await user_by_email(portal.tenant, INVITED)
    assert user.status == "invited" and user.sso_subject is None


async def test_state_of_another_tenant_is_refused_at_this_portal_callback(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    make_tenant: TenantFactory,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    other = await build_portal_tenant(await make_tenant(name="Other Corp"))
    await configure(settings, portal.tenant, idp)
    await configure(settings, other.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="moved-1", email=customer.email)
    callback = await authorize(
        settings, await start(client, portal.tenant, path=portal_login(portal.tenant))
    )
    moved = callback.replace(f"/portal/{portal.tenant.slug}/", f"/portal/{other.tenant.slug}/")
    resp = await client.get(moved)
    await assert_refused(resp, other.tenant, 400, "another tenant", PORTAL)
    assert idp.token_requests == []  # refused before the code was redeemed
    assert (await user_by_email(portal.tenant, customer.email)).sso_subject is None


async def test_staff_state_is_refused_at_the_portal_callback_and_back(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    """A state belongs to one flow: the staff flow's cannot finish at the portal (which would
    skip the staff account rules) and the portal's cannot finish at the staff callback."""
    await configure(settings, portal.tenant, idp)
    slug = portal.tenant.slug
    staff_callback = await authorize(settings, await start(client, portal.tenant))
    moved = staff_callback.replace(f"/t/{slug}/sso/", f"/portal/{slug}/sso/")
    await assert_refused(await client.get(moved), portal.tenant, 400, "staff sign-in", PORTAL)
    portal_callback = await authorize(
        settings, await start(client, portal.tenant, path=portal_login(portal.tenant))
    )
    moved = portal_callback.replace(f"/portal/{slug}/sso/", f"/t/{slug}/sso/")
    await assert_refused(await client.get(moved), portal.tenant, 400, "portal sign-in")
    assert idp.token_requests == []


async def test_portal_callback_without_the_binding_cookie_is_refused(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="bound-1", email=customer.email)
    callback = await authorize(
        settings, await start(client, portal.tenant, path=portal_login(portal.tenant))
    )
    resp = await browser.get(callback)
    await assert_refused(resp, portal.tenant, 403, "not bound to this browser", PORTAL)
    assert (await user_by_email(portal.tenant, customer.email)).sso_subject is None


# ---------------------------------------------------------------------------------------------
# Accepting an invitation by single sign-on


async def test_invited_customer_accepts_by_sso_and_lands_on_its_own_account(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
) -> None:
    await configure(settings, portal.tenant, idp)
    token = await invite(portal.tenant)
    slug = portal.tenant.slug

    page = await client.get(f"/t/{slug}/invitation/{token}")
    assert page.status_code == 200
    assert f'href="{invitation_start(portal.tenant, token)}"' in page.text
    assert ">Continue with Acme SSO</a>" in page.text
    assert 'for="new"' in page.text  # choosing a password is still offered

    # The provider's e-mail differs in case only: the same address. Its domain is not in the
    # provider's allowed domains, which are for staff.
    idp.user = IdpUser(sub="buyer-1", email="Buyer@Cust.Example")
    url = await start(client, portal.tenant, path=invitation_start(portal.tenant, token))
    assert token not in url  # the invitation stays server-side
    callback = await authorize(settings, url)
    assert token not in callback
    resp = await client.get(callback)
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"/portal/{slug}/"
    await assert_portal_isolation(client, portal, "S1")

    user = await user_by_email(portal.tenant, INVITED)
    assert user.status == "active" and user.kind == "customer" and user.customer_code == "S1"
    assert user.invitation_hash is None and user.invitation_expires_at is None
    assert user.sso_subject == f"{idp.issuer}|buyer-1" and user.password_hash is None
    [accepted] = await audit(portal.tenant, "users.invitation_accepted")
    assert accepted.object_id == str(user.id) and accepted.after == {"method": "sso"}
    assert accepted.actor == INVITED
    assert len(await audit(portal.tenant, "users.sso_linked")) == 1

    # The link is used up; the person signs in through the portal from now on.
    used = await browser.get(invitation_start(portal.tenant, token))
    await assert_refused(used, portal.tenant, 410, "not valid", PORTAL)
    again = await sso_sign_in(browser, settings, portal.tenant, portal_login(portal.tenant))
    assert again.status_code == 303
    assert (await browser.get("/api/v1/portal/entitlements")).json()["account"]["code"] == "S1"


async def test_invitation_by_sso_with_another_email_changes_nothing(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    token = await invite(portal.tenant)
    # Even the verified e-mail of another existing customer user does not take the invitation.
    other = await make_staff(portal.tenant, "customer", customer="P1")
    for email in ("someone.else@cust.example", other.email):
        idp.user = IdpUser(sub="intruder-1", email=email)
        resp = await sso_sign_in(
            client, settings, portal.tenant, invitation_start(portal.tenant, token)
        )
        await assert_refused(resp, portal.tenant, 403, "differs from the invited", PORTAL)
        assert INVITED not in resp.text  # the invited address is not disclosed
    user = await user_by_email(portal.tenant, INVITED)
    assert user.status == "invited" and user.invitation_hash is not None
    assert user.sso_subject is None
    assert (await user_by_email(portal.tenant, other.email)).sso_subject is None
    assert await audit(portal.tenant, "users.invitation_accepted") == []
    assert await audit(portal.tenant, "users.sso_linked") == []
    assert await audit(portal.tenant, "auth.login") == []

    # The invitation still works, with a password.
    accepted = await accept_with_password(browser, portal.tenant, token)
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/portal/{portal.tenant.slug}/"


async def accept_with_password(
    browser: httpx.AsyncClient, tenant: TenantRef, token: str
) -> httpx.Response:
    url = f"/t/{tenant.slug}/invitation/{token}"
    form = csrf_of((await browser.get(url)).text)
    passphrase = "a long enough passphrase 42"
    return await browser.post(url, data={"new": passphrase, "repeat": passphrase, "_csrf": form})


async def expire(tenant: TenantRef, email: str) -> None:
    async with tenant_session(tenant) as s:
        await s.execute(
            update(User)
            .where(User.email == email)
            .values(invitation_expires_at=utcnow() - timedelta(minutes=1))
        )


async def test_expired_invitation_is_refused_before_and_after_the_provider(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
) -> None:
    await configure(settings, portal.tenant, idp)
    token = await invite(portal.tenant)
    idp.user = IdpUser(sub="late-1", email=INVITED)
    # Expired while the person was at the provider: refused at the callback.
    url = await start(client, portal.tenant, path=invitation_start(portal.tenant, token))
    callback = await authorize(settings, url)
    await expire(portal.tenant, INVITED)
    resp = await client.get(callback)
    await assert_refused(resp, portal.tenant, 410, "expired", PORTAL)
    assert "ask for a new one" in resp.text

    # Expired already: refused at once, the provider is not even asked.
    idp.reset()
    resp = await browser.get(invitation_start(portal.tenant, token))
    await assert_refused(resp, portal.tenant, 410, "expired", PORTAL)
    assert idp.authorize_requests == []
    page = await browser.get(f"/t/{portal.tenant.slug}/invitation/{token}")
    assert "Continue with" not in page.text  # no button for an expired invitation
    user = await user_by_email(portal.tenant, INVITED)
    assert user.status == "invited" and user.sso_subject is None
    assert await audit(portal.tenant, "users.invitation_accepted") == []


async def test_invitation_used_meanwhile_or_unknown_is_refused(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
) -> None:
    await configure(settings, portal.tenant, idp)
    token = await invite(portal.tenant)
    idp.user = IdpUser(sub="twice-1", email=INVITED)
    callback = await authorize(
        settings, await start(client, portal.tenant, path=invitation_start(portal.tenant, token))
    )
    # Accepted with a password in another browser while this one was at the provider.
    accepted = await accept_with_password(browser, portal.tenant, token)
    assert accepted.status_code == 303
    resp = await client.get(callback)
    await assert_refused(resp, portal.tenant, 410, "not valid", PORTAL)
    assert (await user_by_email(portal.tenant, INVITED)).sso_subject is None
    unknown = await client.get(invitation_start(portal.tenant, "no-such-invitation"))
    await assert_refused(unknown, portal.tenant, 410, "not valid", PORTAL)


async def test_invitation_page_offers_sso_only_for_open_customer_invitations(
    client: httpx.AsyncClient, settings: Settings, portal: PortalData, idp: OidcTestProvider
) -> None:
    slug = portal.tenant.slug
    customer_token = await invite(portal.tenant)
    async with tenant_session(portal.tenant) as s:
        staff = await create_user(
            s, email="planner@acme.example", role="planner", actor=SYSTEM, invite=True
        )
    staff_token = staff.invitation_token
    assert staff_token is not None

    # Single sign-on not set up: passwords only.
    assert "Continue with" not in (await client.get(f"/t/{slug}/invitation/{customer_token}")).text
    await configure(settings, portal.tenant, idp)
    assert "Continue with" in (await client.get(f"/t/{slug}/invitation/{customer_token}")).text
    # A staff invitation: not through the portal (staff use the staff sign-in).
    assert "Continue with" not in (await client.get(f"/t/{slug}/invitation/{staff_token}")).text
    idp.user = IdpUser(sub="planner-1", email="planner@acme.example")
    resp = await client.get(invitation_start(portal.tenant, staff_token))
    await assert_refused(resp, portal.tenant, 403, "staff invitation", PORTAL)
    # A failed password attempt re-renders the page with the button.
    form = csrf_of((await client.get(f"/t/{slug}/invitation/{customer_token}")).text)
    bad = await client.post(
        f"/t/{slug}/invitation/{customer_token}",
        data={"new": "short", "repeat": "short", "_csrf": form},
    )
    assert bad.status_code == 422 and "Continue with Acme SSO" in bad.text
    # Turned off: the button goes.
    await configure(settings, portal.tenant, idp, enabled="")
    assert "Continue with" not in (await client.get(f"/t/{slug}/invitation/{customer_token}")).text


async def test_identity_already_linked_elsewhere_cannot_accept_an_invitation(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    """One provider identity, one Tierline account: a person already signing in as another
    customer user does not silently become the invited one too."""
    await configure(settings, portal.tenant, idp)
    existing: Staff = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="shared-1", email=existing.email)
    assert (
        await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    ).status_code == 303
    token = await invite(portal.tenant)
    idp.user = IdpUser(sub="shared-1", email=INVITED)  # the same identity, its e-mail changed
    resp = await sso_sign_in(
        client, settings, portal.tenant, invitation_start(portal.tenant, token)
    )
    await assert_refused(resp, portal.tenant, 409, "already linked to another account", PORTAL)
    assert (await user_by_email(portal.tenant, INVITED)).status == "invited"


async def test_password_sign_in_still_works_for_a_linked_customer(
    client: httpx.AsyncClient,
    settings: Settings,
    portal: PortalData,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, portal.tenant, idp)
    customer = await make_staff(portal.tenant, "customer", customer="P1")
    idp.user = IdpUser(sub="both-1", email=customer.email)
    assert (
        await sso_sign_in(client, settings, portal.tenant, portal_login(portal.tenant))
    ).status_code == 303
    client.cookies.clear()
    resp = await portal_sign_in(client, portal.tenant, customer.email, customer.password)
    assert resp.status_code == 303 and resp.headers["location"] == f"/portal/{portal.tenant.slug}/"


async def test_throttle_is_shared_with_staff_sign_in(
    client: httpx.AsyncClient, portal: PortalData
) -> None:
    """One budget per address for both flows: switching to the portal buys no attempts."""
    from tierline.platform.identity.sso_flow import SSO_IP_LIMIT

    for _ in range(SSO_IP_LIMIT):
        assert (await client.get(login_path(portal.tenant))).status_code == 404  # not set up
    limited = await client.get(portal_login(portal.tenant))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Single sign-on did not work" in limited.text
    assert f"/portal/{portal.tenant.slug}/style.css" in limited.text  # the portal's own page
