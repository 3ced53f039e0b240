"""Per-tenant OpenID Connect single sign-on (authorization code flow with PKCE, state, nonce).

A tenant has at most one identity provider (table ``oidc_providers``). It serves two flows that
share everything but two things: where the browser comes back (``/t/{tenant}/sso/callback`` for
staff, ``/portal/{tenant}/sso/callback`` for customer users) and how the account is found.

1. ``begin_login`` makes a random ``state``, ``nonce`` and PKCE verifier, keeps them in Redis under
   the state's digest for 10 minutes, bound to the tenant, the flow and the browser (the browser
   gets a short-lived HttpOnly cookie with a random binding value; Redis keeps only its digest),
   and returns the provider's authorization URL. A portal sign-in that accepts an invitation
   keeps the invitation's digest there too (never in a URL the provider sees or sends back).
2. ``finish_login`` takes the state out of Redis (single use: GETDEL), checks the tenant, the flow
   and the binding cookie, exchanges the code with the verifier, validates the ID token
   (signature against the provider's JWKS, algorithm allow-list, issuer, audience, expiry, nonce,
   verified e-mail), then hands the claims to the flow's account resolution:

   - staff (``resolve_user``): the e-mail domain must be allowed; the user is found by subject,
     linked by e-mail or created just in time, and mapped roles are granted;
   - portal (``resolve_customer``, ``accept_invitation``): never created; an existing customer
     user of the tenant is found by subject or linked by verified e-mail, or an open customer
     invitation for that very e-mail is accepted. The allowed domains do not apply: customer
     users come from their own companies, and the invitation is the gate.

Every refusal is an ``SsoRefused`` carrying an audit reason (never a token or secret) and a
message fit for the person signing in; the web layer audits it and renders a friendly page.

This module is the flow and the entry point the web layer calls; its parts live next to it:
``oidc_settings`` (the tenant's provider configuration), ``oidc_protocol`` (discovery, keys, the
token exchange and the ID token checks), ``oidc_accounts`` (from verified claims to an account)
and ``oidc_errors`` (``SsoRefused``). The names callers use are re-exported here (``__all__``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.encryption import EncryptionError
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.login import record_login
from tierline.platform.identity.models import OidcProvider, User
from tierline.platform.identity.oidc_accounts import (
    AccountRules,
    accept_invitation,
    customer_identity_from_claims,
    identity_from_claims,
    open_customer_invitation,
    resolve_customer,
    resolve_user,
)
from tierline.platform.identity.oidc_errors import SsoRefused
from tierline.platform.identity.oidc_protocol import (
    _UNREACHABLE,
    Discovery,
    ProviderError,
    check_discovery,
    discover,
    exchange_code,
    reset_caches,
    validate_id_token,
)
from tierline.platform.identity.oidc_settings import (
    SsoConfigError,
    client_secret,
    format_role_mapping,
    get_provider,
    is_allowed_url,
    parse_role_mapping,
    save_provider,
    validate_settings,
)
from tierline.platform.identity.users import Actor, invitation_digest
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session

__all__ = [
    "BINDING_COOKIE",
    "FLOWS",
    "PORTAL_FLOW",
    "RESOLVERS",
    "STAFF_FLOW",
    "STATE_TTL_SECONDS",
    "CallbackParams",
    "LoginStart",
    "PendingLogin",
    "SignedIn",
    "SsoConfigError",
    "SsoRefused",
    "VerifiedLogin",
    "begin_login",
    "callback_url",
    "check_callback",
    "check_discovery",
    "client_secret",
    "enabled_provider_name",
    "finish_login",
    "format_role_mapping",
    "get_provider",
    "invitation_provider_name",
    "is_allowed_url",
    "parse_role_mapping",
    "portal_callback_url",
    "portal_rules",
    "provider_button",
    "reset_caches",
    "save_provider",
    "sign_in_url",
    "sso_path",
    "staff_rules",
    "start_login",
    "take_pending",
    "validate_settings",
]

SCOPE = "openid email profile"
STATE_TTL_SECONDS = 600
BINDING_COOKIE = "tl_sso"
_STATE_KEY = "tl:sso:state:"


# ---------------------------------------------------------------------------------------------
# The flow: starting


STAFF_FLOW, PORTAL_FLOW = "staff", "portal"
FLOWS = (STAFF_FLOW, PORTAL_FLOW)


@dataclass(frozen=True)
class PendingLogin:
    """What the callback needs, kept server-side under the state (never in the browser)."""

    tenant: str
    provider_id: str
    nonce: str
    verifier: str
    binding_digest: str
    redirect_uri: str
    next_path: str
    flow: str = STAFF_FLOW  # which callback may finish it (states from before flows: staff)
    invitation: str | None = None  # the digest of the invitation being accepted (portal only)


@dataclass(frozen=True)
class LoginStart:
    authorization_url: str
    binding: str  # goes into the HttpOnly binding cookie


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def sso_path(tenant: TenantRef, flow: str = STAFF_FLOW) -> str:
    """Where a flow's routes live: ``/t/{tenant}/sso`` (staff), ``/portal/{tenant}/sso``."""
    if flow not in FLOWS:
        raise ValueError(f"unknown single sign-on flow {flow!r}")
    return f"/t/{tenant.slug}/sso" if flow == STAFF_FLOW else f"/portal/{tenant.slug}/sso"


def callback_url(base_url: str, tenant: TenantRef, flow: str = STAFF_FLOW) -> str:
    """The redirect URI to register at the provider for ``flow`` (both, when customer users
    sign in through the portal too)."""
    # From the configured public URL, never from the request's Host header.
    return f"{base_url.rstrip('/')}{sso_path(tenant, flow)}/callback"


def portal_callback_url(base_url: str, tenant: TenantRef) -> str:
    return callback_url(base_url, tenant, PORTAL_FLOW)


def sign_in_url(base_url: str, tenant: TenantRef, flow: str) -> str:
    """The password sign-in page of a flow (named in refusals that send people elsewhere)."""
    path = f"/t/{tenant.slug}/login" if flow == STAFF_FLOW else f"/portal/{tenant.slug}/login"
    return base_url.rstrip("/") + path


async def begin_login(
    redis: Any,
    tenant: TenantRef,
    provider: OidcProvider,
    discovery: Discovery,
    redirect_uri: str,
    next_path: str,
    *,
    flow: str = STAFF_FLOW,
    invitation: str | None = None,
) -> LoginStart:
    state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = str(generate_token(64))  # RFC 7636 §4.1: 43-128 unreserved characters
    pending = PendingLogin(
        tenant=tenant.slug,
        provider_id=str(provider.id),
        nonce=nonce,
        verifier=verifier,
        binding_digest=_digest(binding),
        redirect_uri=redirect_uri,
        next_path=next_path,
        flow=flow,
        invitation=invitation,
    )
    # Only the state's digest names the key: a Redis dump does not yield usable states.
    await redis.set(_STATE_KEY + _digest(state), json.dumps(asdict(pending)), ex=STATE_TTL_SECONDS)
    params = [
        ("response_type", "code"),
        ("client_id", provider.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", str(create_s256_code_challenge(verifier))),
        ("code_challenge_method", "S256"),
    ]
    url = str(add_params_to_uri(discovery.authorization_endpoint, params))
    return LoginStart(url, binding)


# ---------------------------------------------------------------------------------------------
# The flow: the callback


@dataclass(frozen=True)
class CallbackParams:
    state: str | None
    code: str | None
    error: str | None
    binding: str | None  # the binding cookie


async def take_pending(redis: Any, state: str) -> PendingLogin | None:
    """The pending login for ``state``, removed in the same step (a state works once)."""
    raw = await redis.getdel(_STATE_KEY + _digest(state))
    if raw is None:
        return None
    try:
        return PendingLogin(**json.loads(raw))
    except (TypeError, ValueError):
        return None


async def check_callback(
    redis: Any, tenant: TenantRef, params: CallbackParams, flow: str = STAFF_FLOW
) -> tuple[PendingLogin, str]:
    """State, tenant, flow and browser binding; the state is consumed even when refused."""
    if not params.state or len(params.state) > 200:
        raise SsoRefused(400, "callback without state")
    pending = await take_pending(redis, params.state)
    if pending is None:
        raise SsoRefused(400, "unknown, expired or already used state")
    if pending.tenant != tenant.slug:
        raise SsoRefused(400, "state issued for another tenant")
    if pending.flow != flow:
        raise SsoRefused(400, f"state issued for the {pending.flow} sign-in, not the {flow} one")
    if not params.binding or not hmac.compare_digest(
        _digest(params.binding), pending.binding_digest
    ):
        raise SsoRefused(403, "state not bound to this browser (binding cookie missing or wrong)")
    if params.error:
        reason = re.sub(r"[^A-Za-z0-9_.-]", "", params.error)[:60]
        raise SsoRefused(
            401, f"provider returned error {reason}", "Your identity provider did not sign you in."
        )
    if not params.code or len(params.code) > 2000:
        raise SsoRefused(400, "callback without authorization code")
    return pending, params.code


# ---------------------------------------------------------------------------------------------
# The flow: which accounts each flow signs in


def staff_rules(base_url: str, tenant: TenantRef) -> AccountRules:
    portal = sign_in_url(base_url, tenant, PORTAL_FLOW)
    return AccountRules(
        kind="staff",
        wrong_kind_reason="customer account cannot use staff single sign-on",
        wrong_kind_message=(
            f"This account signs in through the customer portal. Sign in at {portal} instead."
        ),
        elsewhere=(portal, "Go to the customer portal sign-in"),
        contact="your administrator",
    )


def portal_rules(base_url: str, tenant: TenantRef) -> AccountRules:
    staff = sign_in_url(base_url, tenant, STAFF_FLOW)
    return AccountRules(
        kind="customer",
        wrong_kind_reason="staff account cannot use customer portal single sign-on",
        wrong_kind_message=(
            f"This is a staff account, not a customer portal account. Sign in at {staff} instead."
        ),
        elsewhere=(staff, "Go to the staff sign-in"),
        contact="your account manager",
    )


# ---------------------------------------------------------------------------------------------
# The whole flow, as the web layer calls it


async def provider_button(session: AsyncSession) -> str | None:
    """The display name of the tenant's provider when single sign-on is on (login button)."""
    provider = await get_provider(session)
    return provider.name if provider is not None and provider.enabled else None


async def enabled_provider_name(tenant: TenantRef) -> str | None:
    async with tenant_session(tenant) as s:
        return await provider_button(s)


async def invitation_provider_name(tenant: TenantRef, token: str) -> str | None:
    """The provider's name when ``token`` opens a customer invitation and single sign-on is on
    (the invitation page's "Continue with …"); None otherwise."""
    async with tenant_session(tenant) as s:
        name = await provider_button(s)
        if name is None:
            return None
        try:
            await open_customer_invitation(s, invitation_digest(token))
        except SsoRefused:
            return None
    return name


async def _discover_for_login(issuer: str) -> Discovery:
    try:
        return await discover(issuer)
    except ProviderError as exc:
        raise SsoRefused(502, f"discovery failed: {exc}", _UNREACHABLE) from None


def _refuse_disabled(provider: OidcProvider | None) -> OidcProvider:
    if provider is None:
        raise SsoRefused(404, "single sign-on not configured", "Single sign-on is not set up here.")
    if not provider.enabled:
        raise SsoRefused(
            403,
            "single sign-on disabled",
            "Single sign-on is turned off for this organisation. Sign in with your password.",
        )
    return provider


async def start_login(
    redis: Any,
    tenant: TenantRef,
    base_url: str,
    next_path: str,
    *,
    flow: str = STAFF_FLOW,
    invitation_token: str | None = None,
) -> LoginStart:
    """Begin a sign-in of ``flow``; with ``invitation_token`` (portal only) the sign-in accepts
    that customer invitation, which must be open now and is checked again at the callback."""
    digest = None
    async with tenant_session(tenant) as s:
        provider = _refuse_disabled(await get_provider(s))
        if invitation_token is not None:
            if flow != PORTAL_FLOW:
                raise ValueError("invitations are accepted through the portal flow only")
            digest = invitation_digest(invitation_token)
            await open_customer_invitation(s, digest)
    discovery = await _discover_for_login(provider.issuer)
    return await begin_login(
        redis,
        tenant,
        provider,
        discovery,
        callback_url(base_url, tenant, flow),
        next_path,
        flow=flow,
        invitation=digest,
    )


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    kind: str
    next_path: str
    accepted_invitation: bool = False


@dataclass(frozen=True)
class VerifiedLogin:
    """A callback past every protocol check: what account resolution works from."""

    tenant: TenantRef
    provider: OidcProvider
    claims: Mapping[str, Any]
    pending: PendingLogin
    actor: Actor
    base_url: str


async def _staff_account(session: AsyncSession, login: VerifiedLogin) -> User:
    identity = identity_from_claims(login.claims, login.provider)
    rules = staff_rules(login.base_url, login.tenant)
    return await resolve_user(session, login.provider, identity, login.actor, rules)


async def _portal_account(session: AsyncSession, login: VerifiedLogin) -> User:
    identity = customer_identity_from_claims(login.claims, login.provider)
    if login.pending.invitation is not None:
        return await accept_invitation(
            session, login.provider, identity, login.pending.invitation, login.actor
        )
    rules = portal_rules(login.base_url, login.tenant)
    return await resolve_customer(session, login.provider, identity, login.actor, rules)


# The one step in which the flows differ: from verified claims to the account signing in.
AccountResolver = Callable[[AsyncSession, VerifiedLogin], Awaitable[User]]
RESOLVERS: dict[str, AccountResolver] = {
    STAFF_FLOW: _staff_account,
    PORTAL_FLOW: _portal_account,
}


async def _provider_and_secret(
    tenant: TenantRef, provider_id: str, settings: Settings
) -> tuple[OidcProvider, str]:
    async with tenant_session(tenant) as s:
        provider = _refuse_disabled(await get_provider(s))
    if str(provider.id) != provider_id:
        raise SsoRefused(403, "provider replaced while the sign-in was under way")
    try:
        codec = await load_codec(tenant, kms_from_settings(settings))
        return provider, client_secret(provider, codec)
    except EncryptionError:
        raise SsoRefused(
            500,
            "stored client secret cannot be decrypted",
            "Single sign-on is misconfigured. Contact your administrator.",
        ) from None


async def finish_login(
    redis: Any,
    tenant: TenantRef,
    params: CallbackParams,
    settings: Settings,
    client_ip: str,
    request_id: str | None,
    flow: str = STAFF_FLOW,
) -> SignedIn:
    """The callback of ``flow``: every protocol check, then the flow's account resolution in
    one transaction (a refusal changes nothing)."""
    pending, code = await check_callback(redis, tenant, params, flow)
    provider, secret = await _provider_and_secret(tenant, pending.provider_id, settings)
    discovery = await _discover_for_login(provider.issuer)
    id_token = await exchange_code(discovery, provider.client_id, secret, code, pending)
    claims = await validate_id_token(id_token, discovery, provider.client_id, pending.nonce)
    actor = Actor(f"sso:{provider.name}", "system", request_id, client_ip)
    login = VerifiedLogin(tenant, provider, claims, pending, actor, settings.base_url)
    try:
        async with tenant_session(tenant) as s:
            user = await RESOLVERS[flow](s, login)
            await record_login(s, user, "sso", client_ip, request_id)
            return SignedIn(
                str(user.id), user.kind, pending.next_path, pending.invitation is not None
            )
    except IntegrityError:
        # Two first sign-ins of one person at once: the other one created or linked the account.
        email = claims.get("email")
        raise SsoRefused(
            409,
            "account created or linked concurrently",
            "Please sign in again.",
            email=email[:320] if isinstance(email, str) else None,
        ) from None
