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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.encryption import EncryptionError
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.errors import DomainError
from tierline.platform.identity.login import record_login
from tierline.platform.identity.models import OidcProvider, RoleGrant, User
from tierline.platform.identity.users import (
    STAFF_ROLES,
    Actor,
    UserError,
    complete_invitation,
    find_by_email,
    grant_role,
    invitation_digest,
    normalize_email,
    open_invitation,
)
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session

SCOPE = "openid email profile"
STATE_TTL_SECONDS = 600
BINDING_COOKIE = "tl_sso"
ALLOWED_ALGS = ("RS256", "ES256")  # asymmetric only: never "none", never HS* (shared secret)
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
CLOCK_LEEWAY = 60
HTTP_TIMEOUT = 10.0
MAX_DOCUMENT_BYTES = 512 * 1024
DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
# An unknown kid refetches the JWKS (key rotation), but at most this often per JWKS URL, so a
# stream of forged tokens cannot make us hammer the provider.
JWKS_FORCED_REFRESH_SECONDS = 30.0
_CACHE_LIMIT = 500
TABLE, SECRET_COLUMN = "oidc_providers", "client_secret_enc"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")
_STATE_KEY = "tl:sso:state:"

GENERIC_FAILURE = "Single sign-on did not complete. Start again from the sign-in page."


# ---------------------------------------------------------------------------------------------
# Errors


class SsoConfigError(DomainError):
    status_code = 422
    title = "Invalid single sign-on configuration"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ProviderError(Exception):
    """The identity provider could not be used (unreachable, bad discovery document or JWKS)."""


class SsoRefused(Exception):
    """A sign-in attempt refused; ``reason`` goes to the audit log, ``message`` to the page."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str = GENERIC_FAILURE,
        *,
        email: str | None = None,
        user_id: str | None = None,
        link: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message
        self.email = email
        self.user_id = user_id
        self.link = link  # (URL, label): where to go instead, e.g. the other sign-in page


class SecretCodec(Protocol):
    """The part of the tenant's field codec used here (``encryption.FieldCodec``)."""

    def encrypt(self, value: Any, *, table: str, column: str, row_key: str) -> bytes | None: ...

    def decrypt(self, blob: bytes | None, *, table: str, column: str, row_key: str) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ProviderSettings:
    """A validated provider configuration; ``client_secret`` None keeps the stored one."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None
    allowed_domains: tuple[str, ...]
    role_claim: str | None
    role_mapping: dict[str, str]
    default_role: str | None
    enabled: bool


def is_allowed_url(url: str) -> bool:
    """https, or plain http to this machine only (local demos and tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _issuer_problems(issuer: str) -> list[str]:
    if not issuer:
        return ["the issuer URL is required"]
    if len(issuer) > 500:
        return ["the issuer URL is too long (500 characters at most)"]
    parts = urlsplit(issuer)
    if not is_allowed_url(issuer) or parts.query or parts.fragment:
        return [
            "the issuer must be an https:// URL without query or fragment "
            "(http:// only for localhost)"
        ]
    return []


def parse_domains(raw: str) -> tuple[list[str], list[str]]:
    """E-mail domains from a comma/space/newline separated list: (domains, problems)."""
    domains: list[str] = []
    problems: list[str] = []
    for item in re.split(r"[\s,;]+", raw.strip().lower()):
        if not item:
            continue
        domain = item.removeprefix("@")
        if not _DOMAIN.match(domain):
            problems.append(f"'{item}' is not an e-mail domain (e.g. example.com)")
        elif domain not in domains:
            domains.append(domain)
    if not domains and not problems:
        problems.append("list at least one allowed e-mail domain")
    return domains, problems


def parse_role_mapping(raw: str) -> tuple[dict[str, str], list[str]]:
    """Lines ``claim value = role``: (mapping, problems). Roles are staff roles only."""
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        value, sep, role = line.rpartition("=")
        value, role = value.strip(), role.strip()
        if not sep or not value or len(value) > 200:
            problems.append(f"role mapping line {number}: write it as 'claim value = role'")
        elif role not in STAFF_ROLES:
            problems.append(
                f"role mapping line {number}: '{role}' is not a staff role "
                f"(choose: {', '.join(STAFF_ROLES)})"
            )
        else:
            mapping[value] = role
    return mapping, problems


def format_role_mapping(mapping: Mapping[str, Any]) -> str:
    return "\n".join(f"{value} = {role}" for value, role in sorted(mapping.items()))


def _text(form: Mapping[str, Any], key: str, limit: int) -> str:
    return str(form.get(key, "") or "").strip()[:limit]


def _identity_problems(name: str, client_id: str) -> list[str]:
    problems = []
    if not name:
        problems.append("a display name is required (it labels the sign-in button)")
    if not client_id or any(c.isspace() for c in client_id):
        problems.append("the client id is required and has no spaces")
    return problems


def _role_problems(role_claim: str, mapping: dict[str, str], default_role: str) -> list[str]:
    problems = []
    if role_claim and not _CLAIM_NAME.match(role_claim):
        problems.append("the role claim is a claim name such as 'groups' or 'realm_access.roles'")
    if mapping and not role_claim:
        problems.append("a role mapping needs the role claim it reads")
    if default_role and default_role not in STAFF_ROLES:
        problems.append(f"the default role must be one of: {', '.join(STAFF_ROLES)}")
    return problems


def validate_settings(form: Mapping[str, Any], *, has_secret: bool) -> ProviderSettings:
    """Check the admin form; ``has_secret`` says whether a secret is stored already."""
    name, issuer = _text(form, "name", 100), _text(form, "issuer", 501)
    client_id, secret = _text(form, "client_id", 500), str(form.get("client_secret", "") or "")
    domains, problems = parse_domains(str(form.get("allowed_domains", "") or ""))
    mapping, mapping_problems = parse_role_mapping(str(form.get("role_mapping", "") or ""))
    role_claim, default_role = _text(form, "role_claim", 101), _text(form, "default_role", 40)
    problems = [
        *_identity_problems(name, client_id),
        *_issuer_problems(issuer),
        *problems,
        *mapping_problems,
        *_role_problems(role_claim, mapping, default_role),
    ]
    if not secret.strip() and not has_secret:
        problems.append("the client secret is required")
    if len(secret) > 2000:
        problems.append("the client secret is too long")
    if problems:
        raise SsoConfigError(problems)
    return ProviderSettings(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret.strip() or None,
        allowed_domains=tuple(domains),
        role_claim=role_claim or None,
        role_mapping=mapping,
        default_role=default_role or None,
        enabled=str(form.get("enabled", "")).lower() in ("1", "on", "true", "yes"),
    )


async def get_provider(session: AsyncSession) -> OidcProvider | None:
    """The tenant's identity provider (one per tenant; the oldest if several exist)."""
    rows = await session.execute(
        select(OidcProvider).order_by(OidcProvider.created_at, OidcProvider.id).limit(1)
    )
    return rows.scalar_one_or_none()


def _public_view(provider: OidcProvider) -> dict[str, Any]:
    """What the audit log may show of a configuration: everything except the secret."""
    return {
        "name": provider.name,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "allowed_domains": list(provider.allowed_domains or []),
        "role_claim": provider.role_claim,
        "role_mapping": dict(provider.role_mapping or {}),
        "default_role": provider.default_role,
        "enabled": provider.enabled,
    }


async def save_provider(
    session: AsyncSession, codec: SecretCodec, settings: ProviderSettings, actor: Actor
) -> OidcProvider:
    """Create or update the tenant's provider; the secret is sealed with the tenant's codec."""
    provider = await get_provider(session)
    before = _public_view(provider) if provider is not None else None
    if provider is None:
        if settings.client_secret is None:
            raise SsoConfigError(["the client secret is required"])
        provider = OidcProvider(id=uuid.uuid4(), client_secret_enc=b"")
        session.add(provider)
    provider.name, provider.issuer = settings.name, settings.issuer
    provider.client_id = settings.client_id
    provider.allowed_domains = list(settings.allowed_domains)
    provider.role_claim, provider.role_mapping = settings.role_claim, dict(settings.role_mapping)
    provider.default_role, provider.enabled = settings.default_role, settings.enabled
    if settings.client_secret is not None:
        # Associated data binds the ciphertext to this row: copied elsewhere it fails to open.
        sealed = codec.encrypt(
            settings.client_secret, table=TABLE, column=SECRET_COLUMN, row_key=str(provider.id)
        )
        provider.client_secret_enc = sealed or b""
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="sso.configure",
        object_type="oidc_provider",
        object_id=str(provider.id),
        before=before,
        after={**_public_view(provider), "secret_changed": settings.client_secret is not None},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return provider


def client_secret(provider: OidcProvider, codec: SecretCodec) -> str:
    value = codec.decrypt(
        provider.client_secret_enc, table=TABLE, column=SECRET_COLUMN, row_key=str(provider.id)
    )
    return str(value)


# ---------------------------------------------------------------------------------------------
# Discovery and keys (process-wide caches: both documents are public)


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_method: str  # client_secret_basic or client_secret_post
    algorithms: tuple[str, ...]

    def summary(self) -> str:
        return (
            f"issuer {self.issuer}; token endpoint authentication {self.token_auth_method}; "
            f"ID token algorithms {', '.join(self.algorithms)}"
        )


@dataclass
class _KeyCache:
    keys: KeySet
    fetched_at: float
    forced_at: float = 0.0


_discoveries: dict[str, tuple[float, Discovery]] = {}
_jwks: dict[str, _KeyCache] = {}


def reset_caches() -> None:
    """Forget every cached discovery document and key set (tests, key emergencies)."""
    _discoveries.clear()
    _jwks.clear()


def _bounded(cache: dict[str, Any]) -> None:
    while len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))


async def _request_json(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    """One request to the provider: no redirects (the URL must be the provider's own), body
    capped at MAX_DOCUMENT_BYTES while reading. Returns (status, parsed JSON)."""
    try:
        async with (
            httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as http,
            http.stream(method, url, **kwargs) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ProviderError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise ProviderError(f"could not reach {url} ({type(exc).__name__})") from None
    try:
        return response.status_code, json.loads(bytes(body))
    except ValueError:
        raise ProviderError(f"{url} answered HTTP {response.status_code} without JSON") from None


async def fetch_json(url: str) -> dict[str, Any]:
    """GET a JSON object from the provider (discovery document, JWKS)."""
    status, data = await _request_json("GET", url, headers={"Accept": "application/json"})
    if status != 200:
        raise ProviderError(f"{url} answered HTTP {status}")
    if not isinstance(data, dict):
        raise ProviderError(f"{url} did not answer with a JSON object")
    return data


def _endpoint(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not is_allowed_url(value):
        raise ProviderError(f"the discovery document has no usable {name} (https required)")
    return value


def _token_auth_method(doc: Mapping[str, Any]) -> str:
    # OpenID Connect Discovery: when the list is absent, client_secret_basic is the default.
    supported = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    raise ProviderError("the provider supports neither client_secret_basic nor client_secret_post")


def parse_discovery(issuer: str, doc: Mapping[str, Any]) -> Discovery:
    if doc.get("issuer") != issuer:
        # OpenID Connect Discovery §4.3: the issuer must be exactly the one configured.
        raise ProviderError(
            f"the discovery document names issuer {doc.get('issuer')!r}, not {issuer!r}"
        )
    offered = doc.get("id_token_signing_alg_values_supported") or []
    algorithms = tuple(alg for alg in ALLOWED_ALGS if alg in offered)
    if not algorithms:
        raise ProviderError(f"the provider signs ID tokens with none of {', '.join(ALLOWED_ALGS)}")
    return Discovery(
        issuer=issuer,
        authorization_endpoint=_endpoint(doc, "authorization_endpoint"),
        token_endpoint=_endpoint(doc, "token_endpoint"),
        jwks_uri=_endpoint(doc, "jwks_uri"),
        token_auth_method=_token_auth_method(doc),
        algorithms=algorithms,
    )


async def discover(issuer: str, *, refresh: bool = False) -> Discovery:
    """The provider's discovery document (cached for an hour)."""
    cached = _discoveries.get(issuer)
    if cached is not None and not refresh and time.monotonic() - cached[0] < DISCOVERY_TTL:
        return cached[1]
    if not is_allowed_url(issuer):
        raise ProviderError("the issuer must be an https:// URL")
    doc = await fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    found = parse_discovery(issuer, doc)
    _bounded(_discoveries)
    _discoveries[issuer] = (time.monotonic(), found)
    return found


async def _load_keys(jwks_uri: str) -> KeySet:
    doc = await fetch_json(jwks_uri)
    try:
        return KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise ProviderError("the provider's JWKS holds no usable key") from None


async def _key_set(jwks_uri: str, *, force: bool = False) -> KeySet:
    now = time.monotonic()
    cached = _jwks.get(jwks_uri)
    if cached is not None and not force and now - cached.fetched_at < JWKS_TTL:
        return cached.keys
    if cached is not None and force and now - cached.forced_at < JWKS_FORCED_REFRESH_SECONDS:
        return cached.keys
    keys = await _load_keys(jwks_uri)
    _bounded(_jwks)
    _jwks[jwks_uri] = _KeyCache(keys, now, now if force else 0.0)
    return keys


def _pick_key(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    candidates = [
        key
        for key in keys.keys
        if key.key_type == _KEY_TYPES[alg]
        and key.get("use") in (None, "sig")
        and key.get("alg") in (None, alg)
    ]
    if kid is not None:
        return next((key for key in candidates if key.kid == kid), None)
    # No kid: only unambiguous when the set holds exactly one key that fits.
    return candidates[0] if len(candidates) == 1 else None


async def verification_key(jwks_uri: str, kid: str | None, alg: str) -> Key | None:
    """The provider key for ``kid``; an unknown kid refetches the JWKS once (key rotation)."""
    key = _pick_key(await _key_set(jwks_uri), kid, alg)
    if key is None:
        key = _pick_key(await _key_set(jwks_uri, force=True), kid, alg)
    return key


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


def _basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


async def exchange_code(
    discovery: Discovery, client_id: str, secret: str, code: str, pending: PendingLogin
) -> str:
    """Redeem the code (with the PKCE verifier) at the token endpoint; returns the ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.verifier,
        "client_id": client_id,
    }
    headers = {"Accept": "application/json"}
    # S105 false positive: this compares an authentication method's name, not a password.
    if discovery.token_auth_method == "client_secret_post":  # noqa: S105
        form["client_secret"] = secret
    else:
        headers["Authorization"] = _basic_auth(client_id, secret)
    try:
        status, body = await _request_json(
            "POST", discovery.token_endpoint, data=form, headers=headers
        )
    except ProviderError as exc:
        raise SsoRefused(502, f"token endpoint: {exc}", _UNREACHABLE) from None
    return _id_token_from(status, body)


_UNREACHABLE = "Your identity provider could not be reached. Try again in a few minutes."


def _id_token_from(status: int, body: Any) -> str:
    if not isinstance(body, dict):
        raise SsoRefused(502, f"token endpoint answered HTTP {status} without JSON", _UNREACHABLE)
    if status != 200 or "error" in body:
        error = re.sub(r"[^A-Za-z0-9_.-]", "", str(body.get("error", "")))[:60] or "unknown"
        raise SsoRefused(401, f"token exchange refused: {error}")
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SsoRefused(401, "token response without id_token")
    return id_token


def _token_header(id_token: str) -> dict[str, Any]:
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError, TypeError):
        raise SsoRefused(401, "ID token is not a compact JWS") from None
    return dict(header)


async def _verified_claims(id_token: str, discovery: Discovery) -> dict[str, Any]:
    header = _token_header(id_token)
    alg = header.get("alg")
    # The allow-list is checked before any key is looked at: "none" and HS* never get that far.
    if alg not in discovery.algorithms:
        raise SsoRefused(401, f"ID token algorithm {str(alg)[:20]!r} not allowed")
    kid = header.get("kid")
    try:
        key = await verification_key(discovery.jwks_uri, kid if isinstance(kid, str) else None, alg)
    except ProviderError as exc:
        raise SsoRefused(502, f"JWKS unavailable: {exc}", _UNREACHABLE) from None
    if key is None:
        raise SsoRefused(401, "ID token signed by a key the provider does not publish")
    try:
        token = jwt.decode(id_token, key, algorithms=[alg])
    except JoseError:
        raise SsoRefused(401, "ID token signature invalid") from None
    return dict(token.claims)


def _check_claims(claims: dict[str, Any], issuer: str, client_id: str, nonce: str) -> None:
    registry = JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SsoRefused(401, "ID token expired") from None
    except ClaimError as exc:
        raise SsoRefused(401, f"ID token claim '{exc.claim}' invalid or missing") from None
    sent_back = claims["nonce"]
    # Compared here, not by the registry: its "value" check also accepts a list holding it.
    if not isinstance(sent_back, str) or not hmac.compare_digest(sent_back, nonce):
        raise SsoRefused(401, "ID token claim 'nonce' does not match this sign-in")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    # OpenID Connect Core §3.1.3.7: with several audiences, azp must name us.
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise SsoRefused(401, "ID token has several audiences and azp is not our client id")


async def validate_id_token(
    id_token: str, discovery: Discovery, client_id: str, nonce: str
) -> dict[str, Any]:
    """Signature (JWKS, RS256/ES256 only), iss, aud/azp, exp/iat (60 s leeway) and nonce."""
    claims = await _verified_claims(id_token, discovery)
    _check_claims(claims, discovery.issuer, client_id, nonce)
    return claims


# ---------------------------------------------------------------------------------------------
# From claims to a user


@dataclass(frozen=True)
class SsoIdentity:
    subject: str  # "issuer|sub": unique across providers
    email: str
    name: str
    roles: tuple[str, ...] = field(default_factory=tuple)


def _claim_values(claims: Mapping[str, Any], path: str | None) -> list[str]:
    """A claim's string values; ``path`` may be dotted (``realm_access.roles``)."""
    value: Any = claims
    for part in (path or "").split("."):
        value = value.get(part) if isinstance(value, Mapping) and part else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def mapped_roles(claims: Mapping[str, Any], provider: OidcProvider) -> tuple[str, ...]:
    mapping = provider.role_mapping or {}
    found = {mapping[v] for v in _claim_values(claims, provider.role_claim) if v in mapping}
    return tuple(role for role in STAFF_ROLES if role in found)


def _verified_email(claims: Mapping[str, Any]) -> str:
    raw = claims.get("email")
    if not isinstance(raw, str) or not raw:
        raise SsoRefused(
            403, "ID token has no e-mail", "Your identity provider did not share your e-mail."
        )
    verified = claims.get("email_verified")
    # Some providers send the string "true"; anything else (absent, false) is unverified.
    if verified is not True and str(verified).lower() != "true":
        raise SsoRefused(
            403,
            "e-mail not verified by the provider",
            "Your e-mail address is not verified at your identity provider.",
            email=raw[:320],
        )
    try:
        return normalize_email(raw)
    except UserError:
        raise SsoRefused(403, "ID token e-mail is not a valid address", email=raw[:320]) from None


def _identity(claims: Mapping[str, Any], provider: OidcProvider, email: str) -> SsoIdentity:
    subject = f"{provider.issuer}|{claims['sub']}"
    if len(subject) > 500:
        raise SsoRefused(401, "ID token subject too long", email=email)
    name = claims.get("name")
    display = name.strip()[:200] if isinstance(name, str) and name.strip() else ""
    return SsoIdentity(subject, email, display or email.split("@", 1)[0])


def identity_from_claims(claims: Mapping[str, Any], provider: OidcProvider) -> SsoIdentity:
    """A staff identity: a verified e-mail in an allowed domain, and the mapped roles."""
    email = _verified_email(claims)
    domain = email.rsplit("@", 1)[1]
    if domain not in (provider.allowed_domains or []):
        raise SsoRefused(
            403,
            f"e-mail domain {domain} not allowed",
            "Accounts from your e-mail domain cannot sign in to this organisation.",
            email=email,
        )
    identity = _identity(claims, provider, email)
    return replace(identity, roles=mapped_roles(claims, provider))


def customer_identity_from_claims(claims: Mapping[str, Any], provider: OidcProvider) -> SsoIdentity:
    """A customer identity: a verified e-mail, any domain (customer users come from their own
    companies; the invitation, not the domain, decides who gets in), and no roles."""
    return _identity(claims, provider, _verified_email(claims))


@dataclass(frozen=True)
class AccountRules:
    """What a flow accepts of an existing account, and where it sends the others."""

    kind: str  # the only account kind this flow signs in
    wrong_kind_reason: str  # for the audit log
    wrong_kind_message: str  # for the person
    elsewhere: tuple[str, str]  # (URL, label) of the sign-in that account kind uses
    contact: str  # whom to ask when the account is not active


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


def _refuse_unusable(user: User, rules: AccountRules) -> None:
    email, user_id = user.email, str(user.id)
    if user.kind != rules.kind:
        raise SsoRefused(
            403,
            rules.wrong_kind_reason,
            rules.wrong_kind_message,
            email=email,
            user_id=user_id,
            link=rules.elsewhere,
        )
    if user.status == "invited":
        raise SsoRefused(
            403,
            "invitation not accepted yet",
            "Your account is not active yet. Open the invitation link you were sent to "
            "activate it.",
            email=email,
            user_id=user_id,
        )
    if user.status != "active":
        # Only the administrator's lock counts: the password-failure lockout (locked_until)
        # guards the password, which single sign-on does not use.
        raise SsoRefused(
            403,
            f"account {user.status}",
            f"Your Tierline account is {user.status}. Contact {rules.contact}.",
            email=email,
            user_id=user_id,
        )
    if user.kind == "customer" and not user.customer_code:
        raise SsoRefused(
            403,
            "customer user without a customer account",
            f"Your portal account is not set up. Contact {rules.contact}.",
            email=email,
            user_id=user_id,
        )


async def _by_subject(session: AsyncSession, subject: str) -> User | None:
    rows = await session.execute(select(User).where(User.sso_subject == subject))
    return rows.scalar_one_or_none()


async def _link(
    session: AsyncSession, user: User, identity: SsoIdentity, issuer: str, actor: Actor
) -> None:
    """Link an existing account to the provider identity with the same verified e-mail (the
    caller has checked that the account may use this flow: a disabled one must not gain a
    link)."""
    previous = user.sso_subject
    if previous is not None and previous.startswith(issuer + "|"):
        # Same provider, other subject: the address moved to someone else there. Refuse.
        raise SsoRefused(
            403,
            "e-mail already linked to another identity at this provider",
            "This e-mail is linked to another account at your identity provider. "
            "Contact your administrator.",
            email=user.email,
            user_id=str(user.id),
        )
    user.sso_subject = identity.subject
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="users.sso_linked",
        object_type="user",
        object_id=str(user.id),
        before={"sso_subject": previous},
        after={"sso_subject": identity.subject},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )


async def _create(
    session: AsyncSession, identity: SsoIdentity, roles: Iterable[str], actor: Actor
) -> User:
    """Just-in-time account: active, no password (it signs in through the provider only)."""
    user = User(
        id=uuid.uuid4(),
        email=identity.email,
        display_name=identity.name,
        kind="staff",
        status="active",
        password_hash=None,
        must_change_password=False,
        sso_subject=identity.subject,
        failed_logins=0,
        last_login_at=utcnow(),
    )
    session.add(user)
    await session.flush()  # the grants' foreign key needs the user row first
    granted = list(roles)
    for role in granted:
        session.add(RoleGrant(user_id=user.id, role=role, scope="*", granted_by=actor.name))
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="users.create",
        object_type="user",
        object_id=str(user.id),
        after={"email": user.email, "kind": "staff", "roles": granted, "method": "sso"},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return user


async def _create_new(
    session: AsyncSession, provider: OidcProvider, identity: SsoIdentity, actor: Actor
) -> User:
    roles = identity.roles or ((provider.default_role,) if provider.default_role else ())
    if not roles:
        raise SsoRefused(
            403,
            "no role mapped from the provider's claims and no default role",
            "Your account has no Tierline role yet. Ask your administrator to give you access.",
            email=identity.email,
        )
    return await _create(session, identity, roles, actor)


async def resolve_user(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    actor: Actor,
    rules: AccountRules,
) -> User:
    """Staff: linked by subject, else linked by e-mail, else created; claim roles granted."""
    user = await _by_subject(session, identity.subject)
    if user is None:
        user = await find_by_email(session, identity.email)
        if user is None:
            user = await _create_new(session, provider, identity, actor)
        else:
            _refuse_unusable(user, rules)  # before linking
            await _link(session, user, identity, provider.issuer, actor)
    _refuse_unusable(user, rules)
    # Roles the claim maps to are added when missing; grants made by hand are left alone.
    for role in identity.roles:
        await grant_role(session, user.id, role, "*", actor)
    user.last_login_at = utcnow()
    return user


def _no_portal_account(email: str) -> SsoRefused:
    return SsoRefused(
        403,
        "no customer user with this e-mail",
        f"There is no customer portal account for {email}. Ask your account manager for an "
        "invitation.",
        email=email,
    )


async def resolve_customer(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    actor: Actor,
    rules: AccountRules,
) -> User:
    """Portal: linked by subject, else an existing customer user linked by its verified
    e-mail. Never created: a customer user exists only through an invitation."""
    user = await _by_subject(session, identity.subject)
    if user is None:
        user = await find_by_email(session, identity.email)
        if user is None:
            raise _no_portal_account(identity.email)
        _refuse_unusable(user, rules)  # before linking
        await _link(session, user, identity, provider.issuer, actor)
    _refuse_unusable(user, rules)
    user.last_login_at = utcnow()
    return user


async def open_customer_invitation(session: AsyncSession, digest: str) -> User:
    """The invited customer user for an invitation digest; SsoRefused when the invitation is
    unknown, used, expired, revoked or for a staff account."""
    try:
        user = await open_invitation(session, digest)
    except UserError as exc:
        message = str(exc)
        raise SsoRefused(
            410, f"invitation refused: {message}", message[:1].upper() + message[1:] + "."
        ) from None
    if user.kind != "customer":
        raise SsoRefused(
            403,
            "staff invitation cannot be accepted through the customer portal",
            "This invitation is for a staff account: choose a password on the invitation page.",
            user_id=str(user.id),
        )
    return user


async def accept_invitation(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    digest: str,
    actor: Actor,
) -> User:
    """Accept a customer invitation with the provider identity: its verified e-mail must be
    the invited one; the account is linked and activated as the password acceptance does."""
    user = await open_customer_invitation(session, digest)
    if identity.email != user.email:
        raise SsoRefused(
            403,
            "provider e-mail differs from the invited e-mail",
            f"You signed in at {provider.name} as {identity.email}, but this invitation was "
            "sent to another address. Sign in there with the invited address, or choose a "
            "password on the invitation page.",
            email=identity.email,
            user_id=str(user.id),
        )
    holder = await _by_subject(session, identity.subject)
    if holder is not None and holder.id != user.id:
        raise SsoRefused(
            409,
            "provider identity already linked to another account",
            f"Your {provider.name} identity already belongs to another Tierline account. "
            "Contact your account manager.",
            email=identity.email,
            user_id=str(user.id),
        )
    if user.sso_subject != identity.subject:
        await _link(session, user, identity, provider.issuer, actor)
    person = Actor(user.email, "user", actor.request_id, actor.client_ip)
    await complete_invitation(session, user, person, {"method": "sso"})
    user.last_login_at = utcnow()
    return user


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


async def check_discovery(issuer: str) -> tuple[bool, str]:
    """Fetch the discovery document and keys now (admin page): (ok, one line to show)."""
    try:
        found = await discover(issuer, refresh=True)
        keys = await _key_set(found.jwks_uri, force=True)
    except ProviderError as exc:
        return False, str(exc)
    return True, f"{found.summary()}; {len(keys.keys)} signing key(s) published"
