"""Access tokens for machine clients: ES256-signed JWTs (RFC 9068 profile) and their checks.

Verification trusts nothing in the token before the signature is checked, and the header is
held to exactly what ``issue_token`` writes: ``alg`` must be ``ES256`` (so ``none``, HS256 "signed
with the public key" and every other algorithm are refused before any key is touched), ``typ``
must be ``at+jwt`` and ``kid`` must name a key of our JWKS. A bearer token then becomes a
``Principal`` only if its tenant is active and its client still exists and is active.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry
from litestar.datastructures import State
from sqlalchemy import or_, update

from tierline.platform.databases import Databases
from tierline.platform.db import utcnow
from tierline.platform.identity.models import ApiClient
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.signing import ALG, CLOCK_LEEWAY, TOKEN_LIFETIME, key_cache
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_session

AUDIENCE = "tierline-api"
JWT_TYP = "at+jwt"  # RFC 9068 access-token type
_ACCEPTED_TYP = {"at+jwt", "application/at+jwt"}  # RFC 9068 §4 allows both spellings
_HEADER_KEYS = {"alg", "kid", "typ"}
MAX_TOKEN_BYTES = 8192
LAST_USED_EVERY = timedelta(minutes=1)
_SUBJECT = re.compile(r"^client:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class InvalidToken(Exception):
    """The bearer token is not one we issued, or no longer valid; ``str()`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str
    kid: str


async def issue_token(
    databases: Databases,
    settings: Settings,
    tenant: TenantRef,
    client_uuid: uuid.UUID,
    scopes: Iterable[str],
) -> IssuedToken:
    """Sign an access token for a client of ``tenant`` holding ``scopes``."""
    kid, key = await key_cache.signing_key(databases, settings)
    now = int(time.time())
    lifetime = int(TOKEN_LIFETIME.total_seconds())
    scope = " ".join(scopes)
    jti = uuid.uuid4().hex
    claims = {
        "iss": settings.base_url,
        "aud": AUDIENCE,
        "sub": f"client:{client_uuid}",
        "client_id": f"{tenant.slug}.{client_uuid}",
        "tid": tenant.slug,
        "tenant_id": str(tenant.id),
        "scope": scope,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    header = {"alg": ALG, "kid": kid, "typ": JWT_TYP}
    token = jwt.encode(header, claims, key, algorithms=[ALG])
    return IssuedToken(token, lifetime, scope, jti, kid)


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def _checked_header(token: str) -> dict[str, Any]:
    """The unverified header, refused unless it is exactly the shape we issue."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("malformed token")
    try:
        header = _b64json(parts[0])
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidToken("malformed token header") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header")
    if header.get("alg") != ALG:
        # The reason ends up in a WWW-Authenticate header: never echo what the token says.
        raise InvalidToken("algorithm is not accepted")
    if not isinstance(header.get("typ"), str) or header["typ"].lower() not in _ACCEPTED_TYP:
        raise InvalidToken("not an access token (typ)")
    if not isinstance(header.get("kid"), str) or not 0 < len(header["kid"]) <= 64:
        raise InvalidToken("missing key id")
    # jku, jwk, x5u, crit and friends would let the token choose its own key or rules.
    if set(header) - _HEADER_KEYS:
        raise InvalidToken("unexpected token header parameters")
    return header


def _claims_registry(settings: Settings) -> JWTClaimsRegistry:
    return JWTClaimsRegistry(
        leeway=int(CLOCK_LEEWAY.total_seconds()),
        iss={"essential": True, "value": settings.base_url},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
        nbf={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        tid={"essential": True},
        tenant_id={"essential": True},
        scope={"essential": True, "allow_blank": True},
    )


def _check_claim_types(claims: dict[str, Any]) -> None:
    for name in ("tid", "tenant_id", "scope"):
        if not isinstance(claims.get(name), str):
            raise InvalidToken(f"claim {name!r} must be a string")
    if not _SUBJECT.match(claims["sub"]):
        raise InvalidToken("subject is not a machine client")


async def verify_token(token: str, databases: Databases, settings: Settings) -> dict[str, Any]:
    """The claims of a valid access token; InvalidToken(reason) for anything else."""
    header = _checked_header(token)
    key = await key_cache.verification_key(databases, header["kid"])
    if key is None:
        raise InvalidToken("unknown signing key")
    try:
        decoded = jwt.decode(token, key, algorithms=[ALG])
        _claims_registry(settings).validate(decoded.claims)
    except JoseError as exc:
        raise InvalidToken(_describe(exc)) from None
    except (ValueError, TypeError):
        raise InvalidToken("malformed token") from None
    claims: dict[str, Any] = decoded.claims
    _check_claim_types(claims)
    return claims


def _describe(exc: JoseError) -> str:
    """A short reason for logs and WWW-Authenticate, never echoing token content."""
    claim = getattr(exc, "claim", None)
    reasons = {
        "bad_signature": "bad signature",
        "expired_token": "token expired",
        "missing_claim": f"missing claim {claim}",
        "invalid_claim": f"invalid claim {claim}",
    }
    return reasons.get(exc.error, "malformed token")


async def principal_from_bearer(token: str, state: State) -> Principal:
    """The machine client a bearer token speaks for, in the tenant the token names.

    The tenant comes only from the signed claims, and must still be the same tenant (its id,
    not just its slug); the client must still exist there and be active, so revocation works
    at once, not when tokens expire.
    """
    runtime = state.runtime
    claims = await verify_token(token, runtime.databases, runtime.settings)
    try:
        tenant: TenantRef = await state.tenants.get(claims["tid"])
    except TenantNotFound:
        raise InvalidToken("unknown or inactive tenant") from None
    if str(tenant.id) != claims["tenant_id"]:
        raise InvalidToken("token belongs to another tenant")
    client_uuid = uuid.UUID(claims["sub"].removeprefix("client:"))
    async with tenant_session(tenant, runtime.databases) as s:
        row = await s.get(ApiClient, client_uuid)
        if row is None or row.status != "active":
            raise InvalidToken("client revoked or unknown")
        name, held = row.name, frozenset(row.scopes)
        await _touch(s, row)
    granted = frozenset(claims["scope"].split()) & held  # scopes removed since issue stop now
    return Principal(
        tenant=tenant,
        subject=f"client:{client_uuid}",
        kind="client",
        display=name,
        client_scopes=granted,
    )


async def _touch(session: Any, row: ApiClient) -> None:
    """Record use at most once a minute, so busy clients do not write on every request."""
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return
    await session.execute(
        update(ApiClient)
        .where(
            ApiClient.id == row.id,
            or_(ApiClient.last_used_at.is_(None), ApiClient.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
