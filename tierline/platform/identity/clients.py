"""Machine clients (ERP, 3PL): registration, listing, revocation and secret checks.

A client id is ``<tenant slug>.<uuid>``: the slug routes a token request to the tenant's region
and schema without any cross-tenant lookup (slugs never contain a dot), the uuid is the row in
that tenant's ``api_clients``. The secret is shown once and stored only as an argon2 hash.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tierline.platform.audit import record
from tierline.platform.databases import Databases
from tierline.platform.db import SLUG_PATTERN, utcnow
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import ApiClient
from tierline.platform.identity.passwords import hash_password, needs_rehash, verify_password
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.policies.permissions import STAFF_PERMISSIONS

SCOPE_PATTERN = re.compile(r"^[a-z_]+:[a-z_]+$")
NAME_MAX = 200
SECRET_MAX = 256  # far above token_urlsafe(32); caps the argon2 input an attacker can send
CLIENT_ID_MAX = 41 + 36
# A leaked client secret must not be able to mint users, roles, clients or keys: identity
# administration stays with signed-in staff.
_NOT_FOR_CLIENTS = frozenset(
    {"users:manage", "roles:manage", "clients:manage", "sso:manage", "keys:rotate"}
)
CLIENT_SCOPES: frozenset[str] = STAFF_PERMISSIONS - _NOT_FOR_CLIENTS


class ClientError(DomainError):
    status_code = 422
    title = "Invalid machine client"


class ClientNotFound(DomainError):
    status_code = 404
    title = "Not Found"


@dataclass(frozen=True)
class ClientInfo:
    client_id: str  # what the client presents: "<slug>.<uuid>"
    id: uuid.UUID
    name: str
    scopes: tuple[str, ...]
    status: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, tenant: TenantRef, row: ApiClient) -> ClientInfo:
        return cls(
            client_id=format_client_id(tenant.slug, row.id),
            id=row.id,
            name=row.name,
            scopes=tuple(row.scopes),
            status=row.status,
            created_by=row.created_by,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


def format_client_id(tenant_slug: str, client_uuid: uuid.UUID) -> str:
    return f"{tenant_slug}.{client_uuid}"


def parse_client_id(client_id: str) -> tuple[str, uuid.UUID]:
    """``"acme_eu.<uuid>"`` -> ``("acme_eu", UUID(...))``; ValueError for anything else."""
    if len(client_id) > CLIENT_ID_MAX:
        raise ValueError("client id too long")
    slug, sep, raw_uuid = client_id.partition(".")
    if not sep or not SLUG_PATTERN.match(slug):
        raise ValueError("client id is not '<tenant>.<uuid>'")
    return slug, uuid.UUID(raw_uuid)


def validate_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise ClientError(f"client name must be 1-{NAME_MAX} characters")
    return cleaned


def validate_scopes(scopes: Iterable[str], known: Collection[str] = CLIENT_SCOPES) -> list[str]:
    """The scopes deduplicated in order; ClientError for a malformed or unknown one, or none."""
    cleaned = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not cleaned:
        raise ClientError("a client needs at least one scope")
    for scope in cleaned:
        if not SCOPE_PATTERN.match(scope):
            raise ClientError(f"scope {scope!r} is not 'object:action'")
        if scope not in known:
            raise ClientError(f"scope {scope!r} is not a permission a machine client can hold")
    return cleaned


def split_scopes(text: str) -> list[str]:
    """Scopes as typed on a command line: separated by commas and/or spaces."""
    return [s for s in re.split(r"[,\s]+", text) if s]


async def create_client(
    tenant: TenantRef,
    name: str,
    scopes: Iterable[str],
    created_by: str,
    *,
    actor_kind: str = "user",
    request_id: str | None = None,
    client_ip: str | None = None,
    known: Collection[str] = CLIENT_SCOPES,
    databases: Databases | None = None,
) -> tuple[str, str]:
    """Register a client; returns ``(client_id, secret)``. The secret is not kept anywhere."""
    clean_name, clean_scopes = validate_name(name), validate_scopes(scopes, known)
    secret = secrets.token_urlsafe(32)
    secret_hash = await asyncio.to_thread(hash_password, secret)
    row = ApiClient(
        id=uuid.uuid4(),
        name=clean_name,
        secret_hash=secret_hash,
        scopes=clean_scopes,
        status="active",
        created_by=created_by[:200],
        created_at=utcnow(),
    )
    client_id = format_client_id(tenant.slug, row.id)
    async with tenant_session(tenant, databases) as s:
        s.add(row)
        await s.flush()
        await record(
            s,
            actor=created_by,
            actor_kind=actor_kind,
            action="clients.create",
            object_type="api_client",
            object_id=str(row.id),
            after={"client_id": client_id, "name": clean_name, "scopes": clean_scopes},
            request_id=request_id,
            client_ip=client_ip,
        )
    return client_id, secret


async def list_clients(tenant: TenantRef, databases: Databases | None = None) -> list[ClientInfo]:
    async with tenant_session(tenant, databases) as s:
        rows = (await s.execute(select(ApiClient).order_by(ApiClient.created_at))).scalars()
        return [ClientInfo.of(tenant, row) for row in rows]


def _own_uuid(tenant: TenantRef, client_id: str | uuid.UUID) -> uuid.UUID:
    """The row id of a client of ``tenant``; another tenant's id is simply not found."""
    if isinstance(client_id, uuid.UUID):
        return client_id
    try:
        slug, client_uuid = parse_client_id(client_id)
    except ValueError:
        raise ClientNotFound(client_id) from None
    if slug != tenant.slug:
        raise ClientNotFound(client_id)
    return client_uuid


async def revoke_client(
    tenant: TenantRef,
    client_id: str | uuid.UUID,
    revoked_by: str,
    *,
    actor_kind: str = "user",
    request_id: str | None = None,
    client_ip: str | None = None,
    databases: Databases | None = None,
) -> bool:
    """Revoke a client (its tokens stop working at once); False if it was already revoked."""
    client_uuid = _own_uuid(tenant, client_id)
    async with tenant_session(tenant, databases) as s:
        row = await s.get(ApiClient, client_uuid, with_for_update=True)
        if row is None:
            raise ClientNotFound(str(client_id))
        if row.status == "revoked":
            return False
        row.status = "revoked"
        await record(
            s,
            actor=revoked_by,
            actor_kind=actor_kind,
            action="clients.revoke",
            object_type="api_client",
            object_id=str(row.id),
            before={"status": "active"},
            after={"status": "revoked"},
            request_id=request_id,
            client_ip=client_ip,
        )
    return True


@dataclass(frozen=True)
class Authentication:
    """The outcome of a secret check: the client, or why not (for the audit log only)."""

    client: ClientInfo | None
    failure: str | None = None


async def authenticate_client(
    tenant: TenantRef,
    client_uuid: uuid.UUID,
    secret: str,
    databases: Databases | None = None,
) -> Authentication:
    """Check a client secret with the same argon2 effort whether or not the client exists."""
    async with tenant_session(tenant, databases) as s:
        row = await s.get(ApiClient, client_uuid)
        info = ClientInfo.of(tenant, row) if row else None
        stored = row.secret_hash if row else None
    candidate = secret if len(secret) <= SECRET_MAX else ""
    ok = await asyncio.to_thread(verify_password, stored, candidate) and bool(candidate)
    if info is None:
        return Authentication(None, "unknown client")
    if not ok:
        return Authentication(None, "wrong client secret")
    if info.status != "active":
        return Authentication(None, f"client {info.status}")
    if stored and needs_rehash(stored):
        await _rehash(tenant, client_uuid, secret, databases)
    return Authentication(info)


async def _rehash(
    tenant: TenantRef, client_uuid: uuid.UUID, secret: str, databases: Databases | None
) -> None:
    """Upgrade the stored hash when the argon2 parameters were raised since it was made."""
    new_hash = await asyncio.to_thread(hash_password, secret)
    async with tenant_session(tenant, databases) as s:
        row = await s.get(ApiClient, client_uuid)
        if row is not None:
            row.secret_hash = new_hash
