"""Talking to a tenant's OpenID Connect provider: discovery, keys, token exchange, ID tokens.

Fetches and checks the provider's discovery document and JWKS (process-wide caches, both are
public; an unknown kid refetches the keys, rate-limited), redeems an authorization code with the
PKCE verifier at the token endpoint, and validates the ID token (signature against the JWKS,
RS256/ES256 only, issuer, audience/azp, expiry, nonce). An unusable provider is a
``ProviderError``; a token that fails a check is an ``SsoRefused``. It knows nothing of accounts,
Redis state or the web layer.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jwt import JWTClaimsRegistry

from tierline.platform.identity.oidc_errors import SsoRefused
from tierline.platform.identity.oidc_settings import is_allowed_url

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


class ProviderError(Exception):
    """The identity provider could not be used (unreachable, bad discovery document or JWKS)."""


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
# The token endpoint and the ID token


class PendingExchange(Protocol):
    """The part of the pending login the token request uses (``oidc.PendingLogin``)."""

    @property
    def redirect_uri(self) -> str: ...

    @property
    def verifier(self) -> str: ...


def _basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


async def exchange_code(
    discovery: Discovery, client_id: str, secret: str, code: str, pending: PendingExchange
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


async def check_discovery(issuer: str) -> tuple[bool, str]:
    """Fetch the discovery document and keys now (admin page): (ok, one line to show)."""
    try:
        found = await discover(issuer, refresh=True)
        keys = await _key_set(found.jwks_uri, force=True)
    except ProviderError as exc:
        return False, str(exc)
    return True, f"{found.summary()}; {len(keys.keys)} signing key(s) published"
