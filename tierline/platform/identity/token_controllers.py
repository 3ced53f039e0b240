"""The OAuth2 token endpoint (client credentials, RFC 6749 §4.4) and the public JWKS.

Which tenant a token request belongs to is read from the client id itself,
``<tenant slug>.<uuid>`` (see ``clients.py``), so the request needs no extra tenant field and a
client id can never be tried against another tenant's clients.

Errors use RFC 6749 §5.2 JSON (not problem details), since OAuth client libraries parse that
shape; every answer carries ``Cache-Control: no-store``. Requests are rate-limited per client IP
and per client id in Redis, shared by every process.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Reference, Schema
from sqlalchemy import update

from tierline.platform.access import PUBLIC, requires
from tierline.platform.api_docs import form_body
from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.identity import throttle
from tierline.platform.identity.clients import (
    CLIENT_ID_MAX,
    ClientInfo,
    authenticate_client,
    parse_client_id,
)
from tierline.platform.identity.models import ApiClient
from tierline.platform.identity.passwords import verify_password
from tierline.platform.identity.signing import jwks
from tierline.platform.identity.tokens import IssuedToken, issue_token
from tierline.platform.observability import current_request_id
from tierline.platform.routing import Api
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_session

FORM_TYPE = "application/x-www-form-urlencoded"
CLIENT_LIMIT, IP_LIMIT, WINDOW = 30, 120, 60
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tierline", charset="UTF-8"'}
JWKS_CACHE = "public, max-age=300"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.headers = headers or {}


def _invalid_client(description: str = "client authentication failed") -> OAuthError:
    return OAuthError("invalid_client", description, 401, BASIC_CHALLENGE)


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form parameters; each at most once (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise OAuthError("invalid_request", f"the body must be {FORM_TYPE}")
    form = await request.form()
    params: dict[str, str] = {}
    for key in form:
        values = form.getall(key)
        if len(values) != 1 or not isinstance(values[0], str):
            raise OAuthError("invalid_request", f"parameter {key!r} must be given once")
        params[key] = values[0]
    return params


def _basic(header: str) -> Credentials:
    """Credentials from HTTP Basic; both parts are form-encoded first (RFC 6749 §2.3.1)."""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client("malformed Basic credentials")
    return Credentials(unquote_plus(client_id), unquote_plus(secret))


def _credentials(authorization: str, params: dict[str, str]) -> Credentials:
    """Client authentication by Basic or by form fields, never both (RFC 6749 §2.3)."""
    if authorization[:6].lower() == "basic ":
        creds = _basic(authorization)
        if "client_secret" in params or params.get("client_id", creds.client_id) != creds.client_id:
            raise OAuthError("invalid_request", "use one client authentication method")
        return creds
    client_id, secret = params.get("client_id"), params.get("client_secret")
    if not client_id or not secret:
        raise _invalid_client("client credentials are required")
    return Credentials(client_id, secret)


async def _limit(redis: Any, key: str, limit: int) -> None:
    verdict = await throttle.hit(redis, key, limit, WINDOW)
    if not verdict.allowed:
        raise OAuthError(
            "temporarily_unavailable",
            "too many token requests; retry later",
            429,
            {"Retry-After": str(verdict.retry_after)},
        )


def _grant_type(params: dict[str, str]) -> None:
    grant = params.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")


async def _tenant_of(state: State, client_id: str, secret: str) -> tuple[TenantRef, uuid.UUID]:
    try:
        slug, client_uuid = parse_client_id(client_id)
        return await state.tenants.get(slug), client_uuid
    except (ValueError, TenantNotFound):
        # Same argon2 effort as a real check, so timing does not tell which tenants exist.
        await asyncio.to_thread(verify_password, None, secret[:256])
        raise _invalid_client() from None


def _granted_scopes(requested: str | None, held: tuple[str, ...]) -> list[str]:
    """All of the client's scopes, or the requested subset of them (RFC 6749 §3.3)."""
    if requested is None:
        return list(held)
    asked = [s for s in dict.fromkeys(requested.split(" ")) if s]
    if not asked:
        raise OAuthError("invalid_scope", "the scope parameter is empty")
    outside = [s for s in asked if s not in held]
    if outside:
        raise OAuthError("invalid_scope", "scope exceeds what the client was granted")
    return asked


@dataclass(frozen=True)
class _AuditTrail:
    """What the audit entries of one token request share."""

    tenant: TenantRef
    client_uuid: uuid.UUID
    client_id: str
    client_ip: str
    databases: Any

    async def failed(self, reason: str) -> None:
        async with tenant_session(self.tenant, self.databases) as s:
            await record(
                s,
                actor=self.client_id,
                actor_kind="anonymous",
                action="oauth.token_failed",
                object_type="api_client",
                object_id=str(self.client_uuid),
                reason=reason,
                request_id=current_request_id(),
                client_ip=self.client_ip,
            )

    async def issued(self, client: ClientInfo, token: IssuedToken) -> None:
        async with tenant_session(self.tenant, self.databases) as s:
            await s.execute(
                update(ApiClient)
                .where(ApiClient.id == self.client_uuid)
                .values(last_used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await record(
                s,
                actor=client.name,
                actor_kind="client",
                action="oauth.token_issued",
                object_type="api_client",
                object_id=str(self.client_uuid),
                after={"scope": token.scope, "jti": token.jti, "kid": token.kid},
                request_id=current_request_id(),
                client_ip=self.client_ip,
            )


async def _issue(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    runtime = state.runtime
    params = await _params(request)
    redis = await runtime.redis()
    ip = _client_ip(request)
    await _limit(redis, f"oauth-ip:{ip}", IP_LIMIT)
    _grant_type(params)
    creds = _credentials(request.headers.get("authorization", ""), params)
    if len(creds.client_id) > CLIENT_ID_MAX:
        raise _invalid_client()
    await _limit(redis, f"oauth-client:{creds.client_id}", CLIENT_LIMIT)
    tenant, client_uuid = await _tenant_of(state, creds.client_id, creds.secret)
    trail = _AuditTrail(tenant, client_uuid, creds.client_id, ip, runtime.databases)
    auth = await authenticate_client(tenant, client_uuid, creds.secret, runtime.databases)
    if auth.client is None:
        await trail.failed(auth.failure or "authentication failed")
        raise _invalid_client()
    try:
        scopes = _granted_scopes(params.get("scope"), auth.client.scopes)
    except OAuthError as exc:
        await trail.failed(exc.description)
        raise
    issued = await issue_token(runtime.databases, runtime.settings, tenant, client_uuid, scopes)
    await trail.issued(auth.client, issued)
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }


class TokenOut(msgspec.Struct):
    """An access token (RFC 6749 §5.1): send it as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorOut(msgspec.Struct):
    """A token request refused (RFC 6749 §5.2)."""

    error: str
    error_description: str


def _oauth_error(description: str) -> ResponseSpec:
    return ResponseSpec(OAuthErrorOut, generate_examples=False, description=description)


_TEXT = Schema(type=OpenAPIType.STRING)
_TOKEN_FIELDS: dict[str, Schema | Reference] = {
    "grant_type": Schema(type=OpenAPIType.STRING, enum=["client_credentials"]),
    "scope": Schema(type=OpenAPIType.STRING, description="Space-separated subset."),
    "client_id": Schema(type=OpenAPIType.STRING, description="``<tenant>.<uuid>``"),
    "client_secret": _TEXT,
}
TOKEN_REQUEST = form_body("TokenRequest", _TOKEN_FIELDS, ["grant_type"])


@post(
    "/oauth/token",
    guards=[requires(PUBLIC)],
    operation_id="issueAccessToken",
    summary="Issue an access token (OAuth2 client credentials)",
    description="RFC 6749 §4.4. Body `application/x-www-form-urlencoded` with "
    "`grant_type=client_credentials` and an optional space-separated `scope` (a subset of "
    "the client's). Authenticate with HTTP Basic or `client_id`/`client_secret` fields; the "
    "client id `<tenant>.<uuid>` names the tenant. Errors are RFC 6749 §5.2 JSON.",
    status_code=200,
    operation_class=TOKEN_REQUEST,
    responses={
        400: _oauth_error("A malformed request, an unsupported grant or an invalid scope."),
        401: _oauth_error("Client authentication failed."),
        429: _oauth_error("Too many token requests; retry after ``Retry-After`` seconds."),
    },
    opt={"throttled": True},
)
async def token_endpoint(request: Request[Any, Any, Any], state: State) -> Response[TokenOut]:
    try:
        body = await _issue(request, state)
    except OAuthError as exc:
        return Response(
            OAuthErrorOut(exc.error, exc.description),  # type: ignore[arg-type]
            status_code=exc.status,
            media_type="application/json",
            headers={**NO_STORE, **exc.headers},
        )
    token = msgspec.convert(body, TokenOut)
    return Response(token, status_code=200, media_type="application/json", headers=NO_STORE)


@get(
    "/.well-known/jwks.json",
    guards=[requires(PUBLIC)],
    operation_id="getJwks",
    summary="Public keys that verify Tierline access tokens (JWKS)",
)
async def jwks_endpoint(state: State) -> Response[dict[str, Any]]:
    document = await jwks(state.runtime.databases)
    return Response(document, media_type="application/json", headers={"Cache-Control": JWKS_CACHE})


ROUTES = [jwks_endpoint, Api(token_endpoint)]
