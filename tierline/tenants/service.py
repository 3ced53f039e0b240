"""Tenant lifecycle: provisioning, listing and resolving tenants.

Provisioning is all-or-nothing. The control row is inserted first (status ``provisioning``) so
the slug is reserved; the schema is then created and brought to head in one region transaction;
only then is the row marked ``active``. Any failure rolls the region transaction back and deletes
the row, so no schema and no control row remain. The schema is built by the region's rendered
template script (``tenants.template``: one round trip), or by Alembic when there is none.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from asyncpg.exceptions import DuplicateSchemaError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tierline.platform.alembic_runner import head_revision
from tierline.platform.control_plane import Tenant, ensure_region_rows
from tierline.platform.databases import Databases, RegionUnavailable, ping
from tierline.platform.db import schema_for, utcnow, validate_slug
from tierline.platform.encryption.kms import Kms
from tierline.platform.encryption.store import create_initial_key, default_kms
from tierline.platform.tenancy import TenantRef
from tierline.tenants import template
from tierline.tenants.errors import (
    DuplicateTenant,
    InvalidTenantName,
    ProvisioningFailed,
    SchemaConflict,
    TenantError,
)
from tierline.tenants.migrate import MigrationReport, SchemaResult, migrate_all

Progress = Callable[[float, str], Awaitable[None]]


def validate_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidTenantName("tenant name must not be empty")
    if len(cleaned) > 200:
        raise InvalidTenantName("tenant name must be at most 200 characters")
    if any(ord(ch) < 32 for ch in cleaned):
        raise InvalidTenantName("tenant name must not contain control characters")
    return cleaned


async def _no_progress(_fraction: float, _message: str) -> None:
    return None


async def _reserve(databases: Databases, slug: str, name: str, region: str) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    now = utcnow()
    try:
        async with databases.control.begin() as conn:
            await conn.execute(
                insert(Tenant).values(
                    id=tenant_id,
                    slug=slug,
                    name=name,
                    region=region,
                    schema_name=schema_for(slug),
                    status="provisioning",
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError as exc:
        raise DuplicateTenant(slug) from exc
    return tenant_id


async def _create_schema(
    engine: AsyncEngine,
    schema: str,
    region: str,
    progress: Progress,
    tenant_id: uuid.UUID,
    kms: Kms,
) -> str:
    script = await template.schema_script(engine)  # rendered once per process and region
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            await progress(0.4, "schema created")
            revision = await template.build_schema(conn, schema, script)
            # The first data key commits or rolls back with the schema: no tenant without one.
            await create_initial_key(conn, tenant_id, kms)
            await progress(0.8, "schema migrated")
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == DuplicateSchemaError.sqlstate:
            raise SchemaConflict(schema, region) from exc
        raise
    return revision


async def provision_tenant(
    databases: Databases,
    slug: str,
    name: str,
    region: str,
    progress: Progress | None = None,
    kms: Kms | None = None,
) -> TenantRef:
    """Create a tenant, its fully migrated schema and its first data key (wrapped by ``kms``,
    default: the master key of the settings) in ``region`` only; all or nothing."""
    report = progress or _no_progress
    validate_slug(slug)
    name = validate_name(name)
    kms = kms or default_kms()  # before reserving: a bad master key must leave nothing behind
    engine = databases.region(region)
    reason = await ping(engine)
    if reason is not None:
        raise RegionUnavailable(region, reason)
    await databases.verified_region(region)
    await ensure_region_rows(databases)
    await report(0.1, "validated")
    tenant_id = await _reserve(databases, slug, name, region)
    schema = schema_for(slug)
    try:
        revision = await _create_schema(engine, schema, region, report, tenant_id, kms)
        async with databases.control.begin() as conn:
            await conn.execute(
                update(Tenant)
                .where(Tenant.id == tenant_id)
                .values(status="active", schema_revision=revision, updated_at=utcnow())
            )
    except BaseException as exc:
        async with databases.control.begin() as conn:
            await conn.execute(delete(Tenant).where(Tenant.id == tenant_id))
        if isinstance(exc, Exception) and not isinstance(exc, TenantError):
            raise ProvisioningFailed(f"provisioning '{slug}' failed and was undone: {exc}") from exc
        raise
    await report(1.0, "tenant is ready")
    return TenantRef(id=tenant_id, slug=slug, name=name, region=region)


async def resume_provisioning(databases: Databases, slug: str) -> TenantRef | None:
    """Finish a provisioning that crashed after its schema committed (a retried job).

    Returns the tenant when it is (now) active, None when nothing was left to resume.
    """
    async with databases.control.connect() as conn:
        row = (await conn.execute(select(Tenant).where(Tenant.slug == slug))).one_or_none()
    if row is None:
        return None
    engine = databases.region(row.region)
    async with engine.connect() as conn:
        found = await conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_name = 'alembic_version'",
            (row.schema_name,),
        )
        has_schema = found.first() is not None
    if row.status == "provisioning":
        if not has_schema:
            async with databases.control.begin() as conn:
                await conn.execute(delete(Tenant).where(Tenant.id == row.id))
            return None
        async with databases.control.begin() as conn:
            await conn.execute(
                update(Tenant)
                .where(Tenant.id == row.id)
                .values(status="active", schema_revision=head_revision("tenant"))
            )
    return TenantRef(id=row.id, slug=row.slug, name=row.name, region=row.region)


__all__ = [
    "MigrationReport",
    "SchemaResult",
    "migrate_all",
    "provision_tenant",
    "resume_provisioning",
    "validate_name",
]
