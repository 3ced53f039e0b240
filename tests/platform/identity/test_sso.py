"""Per-tenant OpenID Connect single sign-on, against a real provider on loopback
(``tests/support/oidc_provider.py``: authlib's authorization server, code grant, OpenID Connect
and PKCE). The browser dance is scripted with httpx: Tierline → provider /authorize → back to
Tierline's callback, carrying Tierline's cookies."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from litestar import Litestar
from sqlalchemy import text

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.support.oidc_provider import IdpUser, OidcTestProvider
from tests.support.sso import (
    assert_refused,
    audit,
    authorize,
    configure,
    roles_of,
    sso_sign_in,
    start,
    users_of,
    with_query,
)
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity import oidc
from tierline.platform.identity.models import OidcProvider
from tierline.platform.identity.users import SYSTEM, set_status
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session

# ---------------------------------------------------------------------------------------------
# The happy path


async def test_first_sign_in_creates_the_user_and_the_second_links_by_subject(
    app: Litestar,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
) -> None:
    await configure(settings, tenant, idp)
    idp.user = IdpUser(sub="alice-1", email="Alice@Acme.example", groups=["tl-planners"])

    first = await sso_sign_in(client, settings, tenant)
    assert first.status_code == 303 and first.headers["location"] == f"/t/{tenant.slug}/"
    assert "tl_session" in client.cookies
    home = await client.get(f"/t/{tenant.slug}/")
    assert home.status_code == 200 and "alice@acme.example" in home.text

    [user] = await users_of(tenant)
    assert user.email == "alice@acme.example" and user.kind == "staff"
    assert user.status == "active" and user.password_hash is None
    assert user.sso_subject == f"{idp.issuer}|alice-1"
    assert await roles_of(tenant, user.id) == {("planner", "*")}
    [created] = await audit(tenant, "users.create")
    assert created.after["method"] == "sso" and created.after["roles"] == ["planner"]

    second = await sso_sign_in(browser, settings, tenant)
    assert second.status_code == 303
    assert [u.id for u in await users_of(tenant)] == [user.id]
    assert len(await audit(tenant, "users.create")) == 1
    logins = await audit(tenant, "auth.login")
    assert len(logins) == 2 and all(row.after == {"method": "sso"} for row in logins)
    assert (await browser.get(f"/t/{tenant.slug}/")).status_code == 200


async def test_pkce_state_and_nonce_are_sent_and_the_verifier_stays_server_side(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    url = await start(client, tenant)
    sent = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert sent["code_challenge_method"] == "S256" and sent["scope"] == "openid email profile"
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32
    binding = next(
        h for h in client.cookies.jar if h.name == "tl_sso"
    )  # browser binding: random, not the state
    assert binding.value not in (sent["state"], sent["nonce"])
    assert binding.path == f"/t/{tenant.slug}/sso/"
    resp = await client.get(await authorize(settings, url))
    assert resp.status_code == 303
    [token_request] = idp.token_requests
    verifier = token_request["code_verifier"]
    assert create_s256_code_challenge(verifier) == sent["code_challenge"]
    assert verifier not in url and token_request["_authorization"] == "basic"
    [authorize_request] = idp.authorize_requests
    assert authorize_request["nonce"] == sent["nonce"]


async def test_login_page_shows_the_button_and_next_is_followed_safely(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    page = await client.get(f"/t/{tenant.slug}/login")
    assert "Sign in with" not in page.text
    await configure(settings, tenant, idp)
    page = await client.get(f"/t/{tenant.slug}/login")
    assert "Sign in with Acme SSO" in page.text
    assert f'href="/t/{tenant.slug}/sso/login"' in page.text

    target = f"/t/{tenant.slug}/admin/users"
    callback = await authorize(settings, await start(client, tenant, f"?next={target}"))
    assert (await client.get(callback)).headers["location"] == target
    callback = await authorize(settings, await start(client, tenant, "?next=https://evil.example/"))
    assert (await client.get(callback)).headers["location"] == f"/t/{tenant.slug}/"


async def test_client_secret_post_when_the_provider_offers_only_that(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    idp.auth_methods = ["client_secret_post"]
    registered = await configure(settings, tenant, idp, auth_method="client_secret_post")
    resp = await sso_sign_in(client, settings, tenant)
    assert resp.status_code == 303, resp.text
    [token_request] = idp.token_requests
    assert token_request["_authorization"] == "none"
    assert token_request["client_secret"] == registered.client_secret


async def test_existing_staff_user_is_linked_by_email_and_claim_roles_are_added(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, tenant, idp)
    analyst = await make_staff(tenant, "analyst")
    idp.user = IdpUser(sub="an-1", email=analyst.email, groups=["tl-planners", "unmapped"])
    resp = await sso_sign_in(client, settings, tenant)
    assert resp.status_code == 303, resp.text
    [user] = await users_of(tenant)
    assert str(user.id) == analyst.user_id and user.sso_subject == f"{idp.issuer}|an-1"
    # The manual grant stays, the claim's role is added.
    assert await roles_of(tenant, user.id) == {("analyst", "*"), ("planner", "*")}
    assert len(await audit(tenant, "users.sso_linked")) == 1


async def test_jwks_is_refetched_when_the_provider_rotates_its_key(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
) -> None:
    await configure(settings, tenant, idp)
    assert (await sso_sign_in(client, settings, tenant)).status_code == 303
    hits = idp.jwks_hits
    idp.rotate_key()
    assert (await sso_sign_in(browser, settings, tenant)).status_code == 303
    assert idp.jwks_hits == hits + 1


# ---------------------------------------------------------------------------------------------
# State, browser binding and PKCE


async def test_replayed_state_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    callback = await authorize(settings, await start(client, tenant))
    assert (await client.get(callback)).status_code == 303
    replay = await client.get(callback)
    await assert_refused(replay, tenant, 400, "already used state")


async def test_tampered_state_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    callback = await authorize(settings, await start(client, tenant))
    state = parse_qs(urlsplit(callback).query)["state"][0]
    resp = await client.get(with_query(callback, state=state[:-2] + "xx"))
    await assert_refused(resp, tenant, 400, "unknown, expired or already used state")
    missing = await client.get(f"/t/{tenant.slug}/sso/callback?code=abc")
    await assert_refused(missing, tenant, 400, "without state")
    assert await users_of(tenant) == []


async def test_callback_without_the_binding_cookie_is_refused_and_burns_the_state(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
) -> None:
    """A callback URL delivered to another browser (login CSRF / session fixation) fails."""
    await configure(settings, tenant, idp)
    callback = await authorize(settings, await start(client, tenant))
    resp = await browser.get(callback)
    await assert_refused(resp, tenant, 403, "not bound to this browser")
    # The attempt consumed the state: the rightful browser must start again.
    await assert_refused(await client.get(callback), tenant, 400, "already used")
    assert idp.token_requests == []  # refused before any code was redeemed


async def test_code_injected_into_another_login_fails_pkce(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
) -> None:
    """An attacker's code pasted into the victim's callback (victim's state and cookie) is
    redeemed with the victim's verifier, which the provider refuses."""
    await configure(settings, tenant, idp)
    victim_callback = await authorize(settings, await start(client, tenant))
    attacker_callback = await authorize(settings, await start(browser, tenant))
    attacker_code = parse_qs(urlsplit(attacker_callback).query)["code"][0]
    resp = await client.get(with_query(victim_callback, code=attacker_code))
    await assert_refused(resp, tenant, 401, "token exchange refused: invalid_grant")
    assert await users_of(tenant) == []


async def test_state_of_one_tenant_is_refused_at_another(
    client: httpx.AsyncClient,
    settings: Settings,
    make_tenant: TenantFactory,
    idp: OidcTestProvider,
) -> None:
    one, other = await make_tenant(), await make_tenant()
    await configure(settings, one, idp)
    await configure(settings, other, idp)
    callback = await authorize(settings, await start(client, one))
    moved = callback.replace(f"/t/{one.slug}/", f"/t/{other.slug}/")
    await assert_refused(await client.get(moved), other, 400, "another tenant")


async def test_provider_error_response_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    url = await start(client, tenant)
    state = parse_qs(urlsplit(url).query)["state"][0]
    resp = await client.get(f"/t/{tenant.slug}/sso/callback?state={state}&error=access_denied")
    await assert_refused(resp, tenant, 401, "provider returned error access_denied")


# ---------------------------------------------------------------------------------------------
# ID-token misbehaviour


@pytest.mark.parametrize(
    ("knob", "value", "status", "reason"),
    [
        ("wrong_issuer", True, 401, "claim 'iss'"),
        ("wrong_audience", True, 401, "claim 'aud'"),
        ("extra_audience", "another-client", 401, "azp"),
        ("expired", True, 401, "expired"),
        ("issued_in_future", True, 401, "claim 'iat'"),
        ("bad_nonce", True, 401, "claim 'nonce' does not match"),
        ("unknown_key", True, 401, "key the provider does not publish"),
        ("hs256_with_secret", True, 401, "algorithm 'HS256' not allowed"),
        ("alg_none", True, 401, "algorithm 'none' not allowed"),
        ("no_id_token", True, 401, "without id_token"),
    ],
)
async def test_bad_id_tokens_are_refused_and_audited(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    knob: str,
    value: Any,
    status: int,
    reason: str,
) -> None:
    await configure(settings, tenant, idp)
    setattr(idp.misbehave, knob, value)
    resp = await sso_sign_in(client, settings, tenant)
    await assert_refused(resp, tenant, status, reason)
    assert await users_of(tenant) == []
    assert await audit(tenant, "auth.login") == []


async def test_unverified_email_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    idp.user = IdpUser(email_verified=False)
    resp = await sso_sign_in(client, settings, tenant)
    await assert_refused(resp, tenant, 403, "e-mail not verified")
    assert "not verified" in resp.text


async def test_disallowed_email_domain_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    for email in ("mallory@acme.example.evil.example", "mallory@sub.acme.example"):
        idp.user = IdpUser(email=email)
        resp = await sso_sign_in(client, settings, tenant)
        domain = email.split("@")[1]
        await assert_refused(resp, tenant, 403, f"domain {domain} not allowed")
        assert (await audit(tenant, "auth.login_failed"))[-1].actor == email
    assert await users_of(tenant) == []


# ---------------------------------------------------------------------------------------------
# Accounts and roles


async def test_no_mapped_role_and_no_default_role_is_refused(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp)
    idp.user = IdpUser(groups=["nothing-mapped"])
    resp = await sso_sign_in(client, settings, tenant)
    await assert_refused(resp, tenant, 403, "no role mapped")
    assert "no Tierline role" in resp.text
    assert await users_of(tenant) == []


async def test_default_role_applies_when_nothing_maps(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp, default_role="analyst")
    idp.user = IdpUser(groups=[])
    assert (await sso_sign_in(client, settings, tenant)).status_code == 303
    [user] = await users_of(tenant)
    assert await roles_of(tenant, user.id) == {("analyst", "*")}


@pytest.mark.parametrize("status", ["disabled", "locked"])
async def test_disabled_or_locked_users_are_refused(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
    status: str,
) -> None:
    await configure(settings, tenant, idp)
    staff = await make_staff(tenant, "planner")
    async with tenant_session(tenant) as s:
        await set_status(s, staff.user_id, status, SYSTEM)
    idp.user = IdpUser(sub="p-1", email=staff.email)
    resp = await sso_sign_in(client, settings, tenant)
    await assert_refused(resp, tenant, 403, f"account {status}")
    [user] = await users_of(tenant)
    assert user.sso_subject is None  # not linked either


async def test_customer_account_with_the_same_email_is_refused(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await configure(settings, tenant, idp)
    customer = await make_staff(tenant, "customer", customer="C-1")
    idp.user = IdpUser(email=customer.email)
    resp = await sso_sign_in(client, settings, tenant)
    await assert_refused(resp, tenant, 403, "customer account")


async def test_disabled_or_missing_provider_is_refused(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
) -> None:
    resp = await client.get(f"/t/{tenant.slug}/sso/login")
    await assert_refused(resp, tenant, 404, "not configured")

    await configure(settings, tenant, idp)
    callback = await authorize(settings, await start(browser, tenant))
    await configure(settings, tenant, idp, enabled="")
    # Turned off while a sign-in was under way: the callback is refused too.
    await assert_refused(await browser.get(callback), tenant, 403, "single sign-on disabled")
    resp = await client.get(f"/t/{tenant.slug}/sso/login")
    await assert_refused(resp, tenant, 403, "single sign-on disabled")
    assert "Sign in with" not in (await client.get(f"/t/{tenant.slug}/login")).text


async def test_unreachable_provider_gives_a_friendly_page(
    client: httpx.AsyncClient, settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    await configure(settings, tenant, idp, issuer="http://127.0.0.1:9")
    resp = await client.get(f"/t/{tenant.slug}/sso/login")
    await assert_refused(resp, tenant, 502, "discovery failed")
    assert "could not be reached" in resp.text


# ---------------------------------------------------------------------------------------------
# Configuration: secret at rest, admin page, permissions, tenant isolation


async def test_client_secret_is_stored_encrypted(
    settings: Settings, tenant: TenantRef, idp: OidcTestProvider
) -> None:
    registered = await configure(settings, tenant, idp)
    async with tenant_connection(tenant) as conn:
        provider_id, raw = (
            await conn.execute(text("SELECT id, client_secret_enc FROM oidc_providers"))
        ).one()
    raw = bytes(raw)
    assert registered.client_secret.encode() not in raw
    codec = await load_codec(tenant, kms_from_settings(settings))
    assert (
        codec.decrypt(
            raw, table="oidc_providers", column="client_secret_enc", row_key=str(provider_id)
        )
        == registered.client_secret
    )
    [change] = await audit(tenant, "sso.configure")
    assert registered.client_secret not in str(change.after)


def admin_form(idp: OidcTestProvider, csrf: str, **overrides: str) -> dict[str, str]:
    return {
        "_csrf": csrf,
        "action": "save",
        "name": "Acme Okta",
        "issuer": idp.issuer,
        "client_id": "tl-admin-page",
        "client_secret": "first-secret-value-123",
        "allowed_domains": "acme.example\nexample.com",
        "role_claim": "groups",
        "role_mapping": "tl-planners = planner",
        "default_role": "analyst",
        "enabled": "1",
        **overrides,
    }


async def stored(tenant: TenantRef) -> OidcProvider | None:
    async with tenant_session(tenant) as s:
        return await oidc.get_provider(s)


async def test_admin_page_saves_the_configuration(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await sign_in(client, await make_staff(tenant))
    url = f"/t/{tenant.slug}/admin/sso"
    page = await client.get(url)
    assert page.status_code == 200 and 'for="sso-issuer"' in page.text
    assert oidc.callback_url(settings.base_url, tenant) in page.text
    csrf = csrf_of(page.text)

    saved = await client.post(url, data=admin_form(idp, csrf))
    assert saved.status_code == 200, saved.text
    assert "settings saved" in saved.text and "Discovery OK" in saved.text
    assert "first-secret-value-123" not in saved.text
    provider = await stored(tenant)
    assert provider is not None and provider.issuer == idp.issuer
    assert provider.allowed_domains == ["acme.example", "example.com"]
    assert provider.role_mapping == {"tl-planners": "planner"}
    assert provider.default_role == "analyst" and provider.enabled

    # A blank secret keeps the stored one; other fields change.
    again = await client.post(url, data=admin_form(idp, csrf, client_secret="", name="Okta"))
    assert again.status_code == 200, again.text
    codec = await load_codec(tenant, kms_from_settings(settings))
    provider = await stored(tenant)
    assert provider is not None and provider.name == "Okta"
    assert oidc.client_secret(provider, codec) == "first-secret-value-123"
    changes = await audit(tenant, "sso.configure")
    assert [c.after["secret_changed"] for c in changes] == [True, False]
    assert "first-secret-value-123" not in str([(c.before, c.after) for c in changes])

    tested = await client.post(url, data={"_csrf": csrf, "action": "test"})
    assert tested.status_code == 200 and "Discovery OK" in tested.text


async def test_admin_page_refuses_bad_settings_and_missing_csrf(
    client: httpx.AsyncClient,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    await sign_in(client, await make_staff(tenant))
    url = f"/t/{tenant.slug}/admin/sso"
    csrf = csrf_of((await client.get(url)).text)
    bad = await client.post(
        url,
        data=admin_form(
            idp,
            csrf,
            issuer="http://login.example.com",
            role_mapping="tl-x = superuser",
            allowed_domains="",
        ),
    )
    assert bad.status_code == 422
    assert "issuer must be an https" in bad.text and "superuser" in bad.text
    assert "at least one allowed e-mail domain" in bad.text
    no_csrf = await client.post(url, data=admin_form(idp, "wrong"))
    assert no_csrf.status_code == 403
    assert await stored(tenant) is None
    assert await audit(tenant, "sso.configure") == []


async def test_wrong_discovery_issuer_is_reported(
    client: httpx.AsyncClient,
    tenant: TenantRef,
    idp: OidcTestProvider,
    make_staff: StaffFactory,
) -> None:
    """The issuer must match the discovery document exactly (here: a trailing slash)."""
    await sign_in(client, await make_staff(tenant))
    url = f"/t/{tenant.slug}/admin/sso"
    csrf = csrf_of((await client.get(url)).text)
    saved = await client.post(url, data=admin_form(idp, csrf, issuer=idp.issuer + "/"))
    assert saved.status_code == 200 and "Discovery failed" in saved.text
    assert "not &#39;" in saved.text or "not '" in saved.text


async def test_non_admin_gets_403(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, idp: OidcTestProvider
) -> None:
    await sign_in(client, await make_staff(tenant, "planner"))
    url = f"/t/{tenant.slug}/admin/sso"
    assert (await client.get(url)).status_code == 403
    page = await client.get(f"/t/{tenant.slug}/")
    assert "admin/sso" not in page.text  # no menu entry either


async def test_admin_of_one_tenant_cannot_see_or_change_another(
    client: httpx.AsyncClient,
    settings: Settings,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
    idp: OidcTestProvider,
) -> None:
    mine, theirs = await make_tenant(), await make_tenant()
    await configure(settings, theirs, idp)
    before = await stored(theirs)
    await sign_in(client, await make_staff(mine))
    csrf = csrf_of((await client.get(f"/t/{mine.slug}/admin/sso")).text)
    url = f"/t/{theirs.slug}/admin/sso"
    assert (await client.get(url)).status_code == 404
    changed = await client.post(url, data=admin_form(idp, csrf, name="Hijacked"))
    assert changed.status_code == 404
    after = await stored(theirs)
    assert before is not None and after is not None and after.name == before.name == "Acme SSO"
    assert len(await audit(theirs, "sso.configure")) == 1


# ---------------------------------------------------------------------------------------------
# Pure checks


def test_issuer_rules() -> None:
    assert oidc.is_allowed_url("https://login.example.com/realms/a")
    assert oidc.is_allowed_url("http://127.0.0.1:8080") and oidc.is_allowed_url("http://localhost")
    assert not oidc.is_allowed_url("http://login.example.com")
    assert not oidc.is_allowed_url("https://user:pw@login.example.com")
    assert not oidc.is_allowed_url("ftp://login.example.com")


def test_role_mapping_accepts_staff_roles_only() -> None:
    mapping, problems = oidc.parse_role_mapping("a = planner\n# note\n\nb=admin\nc = customer\nd")
    assert mapping == {"a": "planner", "b": "admin"}
    assert len(problems) == 2 and "customer" in problems[0]
