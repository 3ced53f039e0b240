"""Deleting a tenant, with crypto-shredding of its field-encryption keys.

Order of work, each step safe to repeat if the one after it fails:

1. the control row is suspended (with who asked, in ``status_detail``), so no process serves
   the tenant any more and a half-finished deletion is visible in ``tierline tenants list``;
2. in the region database, one transaction deletes every row of ``data_keys`` and drops the
   schema with everything in it;
3. the control row is deleted.

Crypto-shredding: encrypted values (margins, revenue, OIDC secrets) can only be read with the
tenant's data keys, and those existed only in its ``data_keys`` table. Once that transaction
commits, a copy of the tenant's data without that table (a partial export, a table-level dump,
a stray file) is unreadable. **Caveat**: database backups taken *before* the deletion still hold
the wrapped keys next to the data, and the master key that unwraps them is shared by all tenants
and stays in service, so such a backup still decrypts. Shredding is complete once every backup
older than the deletion has expired (state that retention period to the customer). A KMS with a
key per tenant, destroyed here too, would make it immediate.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.control_plane import Tenant
from tierline.platform.databases import Databases
from tierline.platform.db import utcnow, validate_slug
from tierline.platform.encryption.store import forget_tenant
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import TenantNotFound
from tierline.tenants.errors import TenantError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletedTenant:
    slug: str
    region: str
    schema: str
    data_keys: int
    schema_existed: bool


@dataclass(frozen=True)
class _Target:
    id: uuid.UUID
    region: str
    schema: str
    status: str


def check_confirmation(slug: str, confirm: str | None) -> None:
    """Deleting needs the slug typed again; ``ValueError`` saying what to type otherwise."""
    if confirm != slug:
        raise ValueError(
            f"deleting tenant '{slug}' destroys all of its data and keys; "
            f"confirm by typing the slug '{slug}'"
        )


async def _target(databases: Databases, slug: str) -> _Target:
    async with databases.control.connect() as conn:
        row = (
            await conn.execute(
                select(Tenant.id, Tenant.region, Tenant.schema_name, Tenant.status).where(
                    Tenant.slug == slug
                )
            )
        ).one_or_none()
    if row is None:
        raise TenantNotFound(slug)
    if row.status == "provisioning":
        # Its provisioning may still be running (or is resumed by its job): let it finish first.
        raise TenantError(f"tenant '{slug}' is still being provisioned; delete it afterwards")
    return _Target(row.id, row.region, row.schema_name, row.status)


async def _suspend(databases: Databases, target: _Target, actor: Actor) -> None:
    detail = f"deletion requested by {actor.kind}:{actor.name} at {utcnow().isoformat()}"
    async with databases.control.begin() as conn:
        await conn.execute(
            update(Tenant)
            .where(Tenant.id == target.id)
            .values(status="suspended", status_detail=detail, updated_at=utcnow())
        )


async def _shred_and_drop(databases: Databases, target: _Target) -> tuple[int, bool]:
    """Delete the data keys and drop the schema in one region transaction; returns how many
    keys were shredded and whether the schema was still there."""
    engine = await databases.verified_region(target.region)
    schema = target.schema
    async with engine.begin() as conn:
        # The lock ``tierline migrate`` takes per schema: no upgrade runs while it is dropped.
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": schema})
        if not await _exists(conn, f'"{schema}"', "regnamespace"):
            return 0, False  # an earlier run dropped it and stopped before the control row
        shredded = 0
        if await _exists(conn, f'"{schema}".data_keys', "regclass"):
            # Explicit, though DROP SCHEMA removes the table too: this is the step that makes
            # every encrypted value unreadable, and its count is reported.
            result = await conn.exec_driver_sql(f'DELETE FROM "{schema}".data_keys')
            shredded = result.rowcount or 0
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    return shredded, True


async def _exists(conn: AsyncConnection, name: str, kind: str) -> bool:
    """Whether ``name`` resolves as a ``regclass`` or ``regnamespace`` (NULL when it does not)."""
    found = await conn.execute(text(f"SELECT to_{kind}(:n)"), {"n": name})
    return found.scalar() is not None


async def delete_tenant(
    databases: Databases, slug: str, confirm: str | None, actor: Actor
) -> DeletedTenant:
    """Delete tenant ``slug`` everywhere: its keys (crypto-shredding), its schema, its control
    row. ``confirm`` must equal ``slug``. Re-running finishes an interrupted deletion."""
    validate_slug(slug)
    check_confirmation(slug, confirm)
    target = await _target(databases, slug)
    await _suspend(databases, target, actor)
    shredded, existed = await _shred_and_drop(databases, target)
    async with databases.control.begin() as conn:
        await conn.execute(delete(Tenant).where(Tenant.id == target.id))
    forget_tenant(target.id)
    # The tenant's own audit log went with its schema; the control plane has none, so the
    # application log is where this deletion stays on record.
    log.warning(
        "tenant %s deleted by %s:%s (region %s, schema %s, %d data keys shredded)",
        slug,
        actor.kind,
        actor.name,
        target.region,
        target.schema,
        shredded,
    )
    return DeletedTenant(slug, target.region, target.schema, shredded, existed)
