"""OAuth2 client credentials: the token endpoint, the JWKS, token verification (forgeries,
algorithm confusion, tenant swaps), machine-client principals, key rotation and the CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from litestar import Litestar, Request, get
from litestar.datastructures import State
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from tests.conftest import TenantFactory, asgi_lifespan
from tierline.platform.access import PUBLIC, declared_permission, requires
from tierline.platform.app import create_app
from tierline.platform.audit.models import AuditLog
from tierline.platform.db import utcnow
from tierline.platform.identity import signing
from tierline.platform.identity.clients import (
    ClientError,
    ClientNotFound,
    create_client,
    list_clients,
    revoke_client,
)
from tierline.platform.identity.clients_cli import clients_app
from tierline.platform.identity.models import ApiClient, SigningKey
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.token_controllers import ROUTES
from tierline.platform.identity.tokens import (
    AUDIENCE,
    InvalidToken,
    principal_from_bearer,
    verify_token,
)
from tierline.platform.routing import declared_handlers
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.platform.tenant_directory import TenantDirectory

TOKEN_URL = "/api/v1/oauth/token"
SCOPES = ["masterdata:read", "segments:read"]


@get(
    "/api/v1/t/{tenant:str}/oauth-test/whoami",
    guards=[requires("masterdata:read")],
    operation_id="oauthTestWhoami",
)
async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
    principal: Principal = request.state.principal
    return {"tenant": principal.tenant.slug, "subject": principal.subject}


@pytest.fixture(scope="module")
async def app(runtime: Runtime, settings: Settings) -> Litestar:
    """The app with a probe that says who the caller is (one for the module: its own, since
    it has a route the others lack)."""
    return create_app(settings, runtime=runtime, extra_routes=[whoami])


@pytest.fixture(autouse=True)
async def fresh_ip_window(runtime: Runtime) -> None:
    """Every test's requests come from 127.0.0.1; start each with an empty IP window."""
    redis = await runtime.redis()
    await redis.delete("tl:rate:oauth-ip:127.0.0.1")


@pytest.fixture
async def registered(tenant: TenantRef) -> tuple[str, str]:
    return await create_client(tenant, "SAP ERP", SCOPES, "admin@example.com")


@pytest.fixture
def state(runtime: Runtime) -> State:
    return State(
        {
            "runtime": runtime,
            "settings": runtime.settings,
            "tenants": TenantDirectory(runtime.databases, ttl_seconds=0),
        }
    )


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def token_for(client: httpx.AsyncClient, client_id: str, secret: str, **form: str) -> str:
    resp = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", **form},
        headers=basic(client_id, secret),
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


async def audit_rows(tenant: TenantRef, action: str) -> list[AuditLog]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(select(AuditLog).where(AuditLog.action == action))
        return list(rows.scalars())


# ---------------------------------------------------------------------------------------------
# Hand-made tokens, for the forgeries


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj).encode())


def unb64(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and signature of a compact JWT, without verifying anything."""
    header, payload, signature = token.split(".")
    return unb64(header), unb64(payload), signature


def claims_for(
    settings: Settings, tenant: TenantRef, client_uuid: str, **over: Any
) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.base_url,
        "aud": AUDIENCE,
        "sub": f"client:{client_uuid}",
        "tid": tenant.slug,
        "tenant_id": str(tenant.id),
        "scope": "masterdata:read",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
    }
    claims.update(over)
    return claims


async def sign_real(runtime: Runtime, claims: dict[str, Any], **header: Any) -> str:
    """Signed with the platform's real active key (what a bug in our own issuer could emit)."""
    kid, key = await signing.key_cache.signing_key(runtime.databases, runtime.settings)
    return jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt", **header}, claims, key)


def sign_foreign(claims: dict[str, Any], kid: str) -> str:
    """Signed with a fresh P-256 key that is not in our JWKS."""
    key = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()))
    return jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, key)


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


async def expect_invalid(runtime: Runtime, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verify_token(token, runtime.databases, runtime.settings)
    return caught.value.reason


# ---------------------------------------------------------------------------------------------
# The token endpoint


async def test_token_by_basic_auth_verifies_against_the_published_jwks(
    client: httpx.AsyncClient, tenant: TenantRef, registered: tuple[str, str], settings: Settings
) -> None:
    client_id, secret = registered
    assert client_id.startswith(f"{tenant.slug}.")
    resp = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "masterdata:read segments:read"

    keys = await client.get("/.well-known/jwks.json")
    assert keys.status_code == 200 and "max-age=300" in keys.headers["cache-control"]
    assert all("d" not in k for k in keys.json()["keys"])  # never a private part
    # Independent check: joserfc with nothing but the JWKS document.
    token = jwt.decode(
        body["access_token"], KeySet.import_key_set(keys.json()), algorithms=["ES256"]
    )
    assert token.header["typ"] == "at+jwt" and token.header["alg"] == "ES256"
    claims = token.claims
    assert claims["iss"] == settings.base_url and claims["aud"] == "tierline-api"
    assert claims["sub"] == f"client:{client_id.split('.', 1)[1]}"
    assert claims["tid"] == tenant.slug and claims["tenant_id"] == str(tenant.id)
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
    assert claims["jti"] and claims["scope"] == "masterdata:read segments:read"
    issued = await audit_rows(tenant, "oauth.token_issued")
    assert len(issued) == 1 and issued[0].after["jti"] == claims["jti"]


async def test_token_by_form_fields_and_narrowed_scope(
    client: httpx.AsyncClient, registered: tuple[str, str], runtime: Runtime
) -> None:
    client_id, secret = registered
    resp = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "segments:read",
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "segments:read"
    claims = await verify_token(resp.json()["access_token"], runtime.databases, runtime.settings)
    assert claims["scope"] == "segments:read"


@pytest.mark.parametrize("case", ["wrong_secret", "unknown_client", "unknown_tenant", "garbled"])
async def test_bad_credentials_are_invalid_client(
    client: httpx.AsyncClient, tenant: TenantRef, registered: tuple[str, str], case: str
) -> None:
    client_id, secret = registered
    client_id, secret = {
        "wrong_secret": (client_id, secret + "x"),
        "unknown_client": (f"{tenant.slug}.{uuid.uuid4()}", secret),
        "unknown_tenant": (f"no_such_tenant.{uuid.uuid4()}", secret),
        "garbled": ("not-a-client-id", secret),
    }[case]
    resp = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client" and resp.json()["error_description"]
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["www-authenticate"].startswith("Basic")
    failed = await audit_rows(tenant, "oauth.token_failed")
    if case in ("wrong_secret", "unknown_client"):
        assert len(failed) == 1 and failed[0].actor_kind == "anonymous"
        assert secret not in json.dumps([failed[0].reason, failed[0].after])


async def test_revoked_client_gets_no_token_and_its_tokens_stop(
    client: httpx.AsyncClient, tenant: TenantRef, registered: tuple[str, str], state: State
) -> None:
    client_id, secret = registered
    token = await token_for(client, client_id, secret)
    await principal_from_bearer(token, state)
    assert await revoke_client(tenant, client_id, "admin@example.com") is True
    assert await revoke_client(tenant, client_id, "admin@example.com") is False
    resp = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    with pytest.raises(InvalidToken, match="revoked"):
        await principal_from_bearer(token, state)
    assert [r.reason for r in await audit_rows(tenant, "oauth.token_failed")] == ["client revoked"]
    assert len(await audit_rows(tenant, "clients.revoke")) == 1


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "masterdata:write"}, "invalid_scope"),
        (
            {"grant_type": "client_credentials", "scope": "masterdata:read users:manage"},
            "invalid_scope",
        ),
        ({"grant_type": "client_credentials", "scope": " "}, "invalid_scope"),
    ],
)
async def test_bad_requests_are_400(
    client: httpx.AsyncClient, registered: tuple[str, str], form: dict[str, str], error: str
) -> None:
    resp = await client.post(TOKEN_URL, data=form, headers=basic(*registered))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == error
    assert resp.headers["cache-control"] == "no-store"


async def test_request_shape_rules(client: httpx.AsyncClient, registered: tuple[str, str]) -> None:
    client_id, secret = registered
    as_json = await client.post(
        TOKEN_URL, json={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    two_methods = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers=basic(client_id, secret),
    )
    assert two_methods.status_code == 400 and two_methods.json()["error"] == "invalid_request"
    repeated = await client.post(
        TOKEN_URL,
        content=b"grant_type=client_credentials&scope=a:b&scope=c:d",
        headers={"content-type": "application/x-www-form-urlencoded", **basic(client_id, secret)},
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    anonymous = await client.post(TOKEN_URL, data={"grant_type": "client_credentials"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"


async def test_rate_limit_per_client(
    client: httpx.AsyncClient, registered: tuple[str, str]
) -> None:
    client_id, secret = registered
    statuses = []
    for _ in range(31):
        resp = await client.post(
            TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
        )
        statuses.append(resp.status_code)
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert resp.headers["cache-control"] == "no-store"


async def test_rate_limit_per_ip(app: Litestar) -> None:
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    async with asgi_lifespan(app):
        transport = httpx.ASGITransport(app=app, client=(ip, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            # Cheap refusals (bad grant type) still count against the address.
            codes = [
                (await c.post(TOKEN_URL, data={"grant_type": "password"})).status_code
                for _ in range(121)
            ]
    assert codes[:120] == [400] * 120 and codes[120] == 429


async def test_jwks_lists_only_public_keys(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await signing.ensure_signing_key(runtime.databases, runtime.settings)
    signing.key_cache.invalidate()
    doc = (await client.get("/.well-known/jwks.json")).json()
    assert doc["keys"]
    for key in doc["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert key["alg"] == "ES256" and key["crv"] == "P-256"


# ---------------------------------------------------------------------------------------------
# verify_token: forgeries and confusions


@pytest.fixture
async def valid(client: httpx.AsyncClient, registered: tuple[str, str]) -> str:
    return await token_for(client, *registered)


async def test_valid_token_verifies(runtime: Runtime, valid: str, tenant: TenantRef) -> None:
    claims = await verify_token(valid, runtime.databases, runtime.settings)
    assert claims["tid"] == tenant.slug


async def test_forged_signature(runtime: Runtime, valid: str) -> None:
    header, claims, signature = split(valid)
    claims["scope"] = "masterdata:read masterdata:write"
    tampered = f"{segment(header)}.{segment(claims)}.{signature}"
    assert await expect_invalid(runtime, tampered) == "bad signature"
    # Same kid, but signed by someone else's key.
    assert await expect_invalid(runtime, sign_foreign(claims, header["kid"])) == "bad signature"
    # Truncated / garbage signatures.
    assert await expect_invalid(runtime, valid[:-4])
    assert await expect_invalid(runtime, valid.rsplit(".", 1)[0] + ".AAAA")


async def test_expired_and_not_yet_valid(
    runtime: Runtime, tenant: TenantRef, registered: tuple[str, str]
) -> None:
    cid = registered[0].split(".", 1)[1]
    past = int(time.time()) - 3600
    expired = claims_for(runtime.settings, tenant, cid, iat=past, nbf=past, exp=past + 900)
    assert await expect_invalid(runtime, await sign_real(runtime, expired)) == "token expired"
    # Within the 30 s leeway still passes; beyond it does not.
    now = int(time.time())
    skewed = claims_for(runtime.settings, tenant, cid, exp=now - 10)
    await verify_token(await sign_real(runtime, skewed), runtime.databases, runtime.settings)
    future = claims_for(runtime.settings, tenant, cid, nbf=now + 600, iat=now + 600)
    assert "claim" in await expect_invalid(runtime, await sign_real(runtime, future))


async def test_alg_none_is_refused(runtime: Runtime, valid: str) -> None:
    header, claims, _ = split(valid)
    for alg in ("none", "None", "NONE"):
        unsigned = f"{segment({**header, 'alg': alg})}.{segment(claims)}."
        assert await expect_invalid(runtime, unsigned)
        with_sig = f"{segment({**header, 'alg': alg})}.{segment(claims)}.AAAA"
        assert "not accepted" in await expect_invalid(runtime, with_sig)


async def test_hs256_signed_with_the_public_key_is_refused(
    runtime: Runtime, valid: str, client: httpx.AsyncClient
) -> None:
    header, claims, _ = split(valid)
    doc = (await client.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in doc["keys"] if k["kid"] == header["kid"])
    public_pem = (
        ECKey.import_key(jwk)
        .get_op_key("verify")
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for secret in (public_pem, json.dumps(jwk).encode(), json.dumps(jwk, sort_keys=True).encode()):
        forged = hs256({**header, "alg": "HS256"}, claims, secret)
        assert "not accepted" in await expect_invalid(runtime, forged)


async def test_wrong_issuer_audience_type_and_headers(
    runtime: Runtime, tenant: TenantRef, registered: tuple[str, str]
) -> None:
    cid = registered[0].split(".", 1)[1]
    s = runtime.settings
    wrong_iss = await sign_real(runtime, claims_for(s, tenant, cid, iss="https://evil.example"))
    assert await expect_invalid(runtime, wrong_iss) == "invalid claim iss"
    wrong_aud = await sign_real(runtime, claims_for(s, tenant, cid, aud="another-api"))
    assert await expect_invalid(runtime, wrong_aud) == "invalid claim aud"
    no_aud = claims_for(s, tenant, cid)
    del no_aud["aud"]
    assert await expect_invalid(runtime, await sign_real(runtime, no_aud)) == "missing claim aud"
    id_token = await sign_real(runtime, claims_for(s, tenant, cid), typ="JWT")
    assert "typ" in await expect_invalid(runtime, id_token)
    embedded_key = await sign_real(runtime, claims_for(s, tenant, cid), jku="https://evil/jwks")
    assert "header" in await expect_invalid(runtime, embedded_key)
    user_sub = await sign_real(runtime, claims_for(s, tenant, cid, sub=str(uuid.uuid4())))
    assert "subject" in await expect_invalid(runtime, user_sub)


async def test_unknown_or_missing_kid(
    runtime: Runtime, tenant: TenantRef, registered: tuple[str, str]
) -> None:
    claims = claims_for(runtime.settings, tenant, registered[0].split(".", 1)[1])
    unknown = sign_foreign(claims, "kid-that-does-not-exist")
    assert await expect_invalid(runtime, unknown) == "unknown signing key"
    key = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()))
    no_kid = jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, key)
    assert await expect_invalid(runtime, no_kid) == "missing key id"
    for junk in ("", "a.b", "x.y.z", "....", "a" * 10_000):
        assert await expect_invalid(runtime, junk)


# ---------------------------------------------------------------------------------------------
# principal_from_bearer and tenant isolation


async def test_principal_for_a_client(
    valid: str, state: State, tenant: TenantRef, registered: tuple[str, str]
) -> None:
    principal = await principal_from_bearer(valid, state)
    client_uuid = registered[0].split(".", 1)[1]
    assert principal.tenant == tenant and principal.kind == "client" and principal.is_client
    assert principal.subject == f"client:{client_uuid}" and principal.display == "SAP ERP"
    assert principal.client_scopes == frozenset(SCOPES)
    async with tenant_session(tenant) as s:
        first = (await s.get(ApiClient, uuid.UUID(client_uuid))).last_used_at  # type: ignore[union-attr]
    assert first is not None
    await principal_from_bearer(valid, state)
    async with tenant_session(tenant) as s:
        again = (await s.get(ApiClient, uuid.UUID(client_uuid))).last_used_at  # type: ignore[union-attr]
    assert again == first  # at most one write a minute


async def test_scopes_removed_from_the_client_stop_at_once(
    valid: str, state: State, tenant: TenantRef, registered: tuple[str, str]
) -> None:
    async with tenant_session(tenant) as s:
        await s.execute(
            update(ApiClient)
            .where(ApiClient.id == uuid.UUID(registered[0].split(".", 1)[1]))
            .values(scopes=["segments:read"])
        )
    principal = await principal_from_bearer(valid, state)
    assert principal.client_scopes == frozenset({"segments:read"})


async def test_tenant_swapped_token_is_rejected(
    runtime: Runtime,
    valid: str,
    state: State,
    tenant: TenantRef,
    make_tenant: TenantFactory,
) -> None:
    other = await make_tenant()
    header, claims, signature = split(valid)
    swapped = {**claims, "tid": other.slug, "tenant_id": str(other.id)}
    # Payload edited, original signature kept.
    edited = f"{segment(header)}.{segment(swapped)}.{signature}"
    # Re-signed with a key that is not in the JWKS (same kid).
    resigned = sign_foreign(swapped, header["kid"])
    # Unsigned.
    unsigned = f"{segment({**header, 'alg': 'none'})}.{segment(swapped)}."
    for forged in (edited, resigned, unsigned):
        with pytest.raises(InvalidToken):
            await principal_from_bearer(forged, state)
    # Even a token we did sign cannot name one tenant's slug with another's id ...
    mixed = await sign_real(runtime, {**claims, "tid": other.slug})
    with pytest.raises(InvalidToken, match="another tenant"):
        await principal_from_bearer(mixed, state)
    # ... and a client of A is not a client of B.
    moved = await sign_real(runtime, swapped)
    with pytest.raises(InvalidToken, match="revoked or unknown"):
        await principal_from_bearer(moved, state)


async def test_token_of_a_never_acts_in_b(
    client: httpx.AsyncClient,
    valid: str,
    tenant: TenantRef,
    make_tenant: TenantFactory,
    state: State,
) -> None:
    other = await make_tenant()
    principal = await principal_from_bearer(valid, state)
    assert principal.tenant.slug == tenant.slug and principal.tenant.id != other.id
    bearer = {"Authorization": f"Bearer {valid}"}
    own = await client.get(f"/api/v1/t/{tenant.slug}/oauth-test/whoami", headers=bearer)
    assert own.status_code == 200 and own.json()["tenant"] == tenant.slug
    foreign = await client.get(f"/api/v1/t/{other.slug}/oauth-test/whoami", headers=bearer)
    assert foreign.status_code == 404
    forged = await client.get(
        f"/api/v1/t/{tenant.slug}/oauth-test/whoami", headers={"Authorization": "Bearer x.y.z"}
    )
    assert forged.status_code == 401 and "invalid_token" in forged.headers["www-authenticate"]


async def test_suspended_tenant_tokens_stop(
    runtime: Runtime, valid: str, state: State, tenant: TenantRef
) -> None:
    from tierline.platform.control_plane import Tenant

    async with runtime.databases.control.begin() as conn:
        await conn.execute(update(Tenant).where(Tenant.id == tenant.id).values(status="suspended"))
    with pytest.raises(InvalidToken, match="tenant"):
        await principal_from_bearer(valid, state)


# ---------------------------------------------------------------------------------------------
# Signing key rotation


async def test_rotation_keeps_old_tokens_until_pruned(
    client: httpx.AsyncClient, registered: tuple[str, str], runtime: Runtime
) -> None:
    dbs, settings = runtime.databases, runtime.settings
    old_token = await token_for(client, *registered)
    old_kid = split(old_token)[0]["kid"]
    new_kid = await signing.rotate_signing_key(dbs, settings)
    assert new_kid != old_kid
    new_token = await token_for(client, *registered)
    assert split(new_token)[0]["kid"] == new_kid
    await verify_token(old_token, dbs, settings)
    await verify_token(new_token, dbs, settings)
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids

    with pytest.raises(ValueError):
        await signing.prune_retired(dbs, timedelta(minutes=1))
    await signing.prune_retired(dbs)  # a key retired moments ago stays
    await verify_token(old_token, dbs, settings)
    async with dbs.control.begin() as conn:
        await conn.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_at=utcnow() - timedelta(hours=2))
        )
    assert await signing.prune_retired(dbs) >= 1
    assert await expect_invalid(runtime, old_token) == "unknown signing key"
    await verify_token(new_token, dbs, settings)
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid not in kids and new_kid in kids


async def test_another_process_rotating_is_picked_up_by_unknown_kid(
    client: httpx.AsyncClient, registered: tuple[str, str], runtime: Runtime
) -> None:
    dbs, settings = runtime.databases, runtime.settings
    await token_for(client, *registered)  # warm this process's cache
    other_process = signing.KeyCache()
    kid, _key = await other_process.signing_key(dbs, settings)
    # Simulate the rotation done elsewhere: this process's cache is not told.
    row = signing._new_key_row(settings)
    async with dbs.control.begin() as conn:
        await conn.execute(
            update(SigningKey)
            .where(SigningKey.status == "active")
            .values(status="retired", retired_at=utcnow())
        )
        await conn.execute(insert(SigningKey).values(**row))
    await asyncio.sleep(signing.MIN_REFRESH_SECONDS)
    other_process.invalidate()
    new_kid, new_key = await other_process.signing_key(dbs, settings)
    assert new_kid == row["kid"] != kid
    registered_uuid = registered[0].split(".", 1)[1]
    tenant_slug = registered[0].split(".", 1)[0]
    claims = {
        "iss": settings.base_url,
        "aud": AUDIENCE,
        "sub": f"client:{registered_uuid}",
        "tid": tenant_slug,
        "tenant_id": str(uuid.uuid4()),
        "scope": "",
        "iat": int(time.time()),
        "nbf": int(time.time()),
        "exp": int(time.time()) + 900,
        "jti": "x",
    }
    token = jwt.encode({"alg": "ES256", "kid": new_kid, "typ": "at+jwt"}, claims, new_key)
    assert (await verify_token(token, dbs, settings))["jti"] == "x"


async def test_private_keys_are_sealed_under_the_master_key(runtime: Runtime) -> None:
    kid = await signing.ensure_signing_key(runtime.databases, runtime.settings)
    async with runtime.databases.control.connect() as conn:
        sealed = (
            await conn.execute(select(SigningKey.private_key_enc).where(SigningKey.kid == kid))
        ).scalar_one()
    assert b"PRIVATE" not in sealed and len(sealed) > 100
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):  # bound to its kid: it does not open as another row's key
        signing.open_private_key(b"\x00" * 32, kid, sealed)


# ---------------------------------------------------------------------------------------------
# Client management


async def test_client_validation(tenant: TenantRef) -> None:
    for name, scopes in [
        ("", SCOPES),
        ("x" * 201, SCOPES),
        ("ok", []),
        ("ok", ["masterdata"]),
        ("ok", ["nonsense:thing"]),
        ("ok", ["users:manage"]),
        ("ok", ["portal:self"]),
    ]:
        with pytest.raises(ClientError):
            await create_client(tenant, name, scopes, "admin@example.com")
    client_id, _ = await create_client(
        tenant, "x" * 200, ["a_b:c_d"], "admin@example.com", known={"a_b:c_d"}
    )
    assert client_id.startswith(f"{tenant.slug}.")


async def test_create_list_revoke_are_audited_without_the_secret(
    tenant: TenantRef, make_tenant: TenantFactory
) -> None:
    client_id, secret = await create_client(
        tenant, "  3PL   Bridge ", ["masterdata:read", "masterdata:read"], "admin@example.com"
    )
    [info] = await list_clients(tenant)
    assert info.client_id == client_id and info.name == "3PL Bridge"
    assert info.scopes == ("masterdata:read",) and info.status == "active"
    async with tenant_session(tenant) as s:
        row = await s.get(ApiClient, info.id)
        assert (
            row is not None
            and secret not in row.secret_hash
            and row.secret_hash.startswith("$argon2")
        )
    other = await make_tenant()
    with pytest.raises(ClientNotFound):  # another tenant's id is not found, never revoked
        await revoke_client(other, client_id, "admin@example.com")
    await revoke_client(tenant, client_id, "admin@example.com")
    [created] = await audit_rows(tenant, "clients.create")
    [revoked] = await audit_rows(tenant, "clients.revoke")
    assert created.after["client_id"] == client_id and created.actor == "admin@example.com"
    assert revoked.object_id == str(info.id)
    for entry in (created, revoked):
        assert secret not in json.dumps([entry.before, entry.after, entry.reason])


async def test_cli_create_and_list(tenant: TenantRef) -> None:
    runner = CliRunner()
    # The command runs its own event loop (asyncio.run), so it runs in a thread here.
    created = await asyncio.to_thread(
        runner.invoke,
        clients_app,
        [
            "create",
            "--tenant",
            tenant.slug,
            "--name",
            "ERP",
            "--scopes",
            "masterdata:read, jobs:read",
        ],
    )
    assert created.exit_code == 0, created.output
    assert "shown only once" in created.output
    client_id = created.stdout.split("client_id:", 1)[1].split()[0]
    listed = await asyncio.to_thread(runner.invoke, clients_app, ["list", "--tenant", tenant.slug])
    assert listed.exit_code == 0 and client_id in listed.stdout
    bad = await asyncio.to_thread(
        runner.invoke,
        clients_app,
        ["create", "--tenant", tenant.slug, "--name", "ERP", "--scopes", "bogus:scope"],
    )
    assert bad.exit_code == 1 and "bogus:scope" in bad.output and "Traceback" not in bad.output
    missing = await asyncio.to_thread(
        runner.invoke, clients_app, ["list", "--tenant", "no_such_tenant"]
    )
    assert missing.exit_code == 1 and "no active tenant" in missing.output


async def test_routes_are_public_and_documented(client: httpx.AsyncClient) -> None:
    for handler in declared_handlers(ROUTES):
        assert declared_permission(handler) == PUBLIC
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"issueAccessToken", "getJwks"} <= operations
