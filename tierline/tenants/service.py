"""Tenant lifecycle: provisioning, listing and resolving tenants.

Provisioning is all-or-nothing. The control row is inserted first (status ``provisioning``) so
the slug is reserved; the schema is then created and migrated in one region transaction; only
then is the row marked ``active``. Any failure rolls the region transaction back and deletes the
row, so no schema and no control row remain.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from asyncpg.exceptions import DuplicateSchemaError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tierline.platform.alembic_runner import head_revision, run_upgrade
from tierline.platform.databases import Databases, RegionUnavailable, ping
from tierline.platform.db import schema_for, utcnow, validate_slug
from tierline.platform.encryption.kms import Kms
from tierline.platform.encryption.store import create_initial_key, default_kms
from tierline.platform.tenancy import TenantNotFound, TenantRef
from tierline.tenants.errors import (
    DuplicateTenant,
    InvalidTenantName,
    ProvisioningFailed,
    SchemaConflict,
    TenantError,
)
from tierline.tenants.models import Region, Tenant

Progress = Callable[[float, str], Awaitable[None]]


@dataclass(frozen=True)
class TenantInfo:
    slug: str
    name: str
    region: str
    schema: str
    status: str
    revision: str | None
    created_at: datetime


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


async def ensure_region_rows(databases: Databases) -> None:
    """Record every configured region in the control plane (idempotent)."""
    async with databases.control.begin() as conn:
        for name in databases.region_names:
            await conn.execute(
                pg_insert(Region).values(name=name, created_at=utcnow()).on_conflict_do_nothing()
            )


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
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            await progress(0.4, "schema created")
            revision = await run_upgrade(conn, "tenant", schema)
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


async def list_tenants(databases: Databases) -> list[TenantInfo]:
    async with databases.control.connect() as conn:
        rows = (await conn.execute(select(Tenant).order_by(Tenant.slug))).all()
    return [
        TenantInfo(
            slug=r.slug,
            name=r.name,
            region=r.region,
            schema=r.schema_name,
            status=r.status,
            revision=r.schema_revision,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _retrieve(task: asyncio.Future[TenantRef | None]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved; callers awaiting the task still see it


class TenantDirectory:
    """Resolves slugs to active tenants, with a short cache so requests skip the control DB.

    The cache lives seconds, so a suspended tenant stops being served promptly everywhere: an
    answer is used at most ``ttl_seconds`` after the query that produced it began. While a
    tenant is in use its entry is re-read in the background before it runs out (at a random
    point of its second half, a few re-reads at a time, so tenants loaded together are not
    re-read in one burst), and requests do not wait for the control database; one query per
    slug runs at a time, shared by every request that needs it meanwhile.
    """

    BACKGROUND_READS = 2  # re-reads running at once (the rest queue; entries stay valid)

    def __init__(self, databases: Databases, ttl_seconds: float = 10.0) -> None:
        self._databases = databases
        self._ttl = ttl_seconds
        # slug -> (expires, refresh from, tenant); monotonic times
        self._cache: dict[str, tuple[float, float, TenantRef | None]] = {}
        self._loading: dict[str, asyncio.Future[TenantRef | None]] = {}
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def get(self, slug: str) -> TenantRef:
        """The active tenant with ``slug``; ``TenantNotFound`` for anything else."""
        now = time.monotonic()
        hit = self._cache.get(slug)
        if hit is not None and hit[0] > now:
            ref = hit[2]
            if now >= hit[1] and slug not in self._loading:
                self._refresh(slug, background=True)  # the entry stays valid meanwhile
        else:
            # Shielded: a request that goes away does not cancel the query others wait for.
            ref = await asyncio.shield(self._refresh(slug))
        if ref is None:
            raise TenantNotFound(slug)
        return ref

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)
        self._loading.pop(slug, None)

    def _refresh(self, slug: str, background: bool = False) -> asyncio.Future[TenantRef | None]:
        task = self._loading.get(slug)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._fetch(slug, background))
            task.add_done_callback(_retrieve)  # a failed background refresh is retried later
            self._loading[slug] = task
        return task

    def _background_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.BACKGROUND_READS))
        return self._slots[1]

    async def _fetch(self, slug: str, background: bool) -> TenantRef | None:
        current = asyncio.current_task()
        try:
            if background:
                async with self._background_slots():
                    started = time.monotonic()
                    ref = await self._load(slug)
            else:
                started = time.monotonic()
                ref = await self._load(slug)
        finally:
            if self._loading.get(slug) is current:
                del self._loading[slug]
            else:
                current = None  # forgotten meanwhile: answer the waiters, keep nothing
        if current is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            refresh_from = started + self._ttl * random.uniform(0.5, 0.75)  # noqa: S311 (spread)
            self._cache[slug] = (started + self._ttl, refresh_from, ref)
        return ref

    async def _load(self, slug: str) -> TenantRef | None:
        try:
            validate_slug(slug)
        except ValueError:
            return None
        async with self._databases.control.connect() as conn:
            row = (
                await conn.execute(
                    select(Tenant.id, Tenant.slug, Tenant.name, Tenant.region, Tenant.status).where(
                        Tenant.slug == slug, Tenant.status == "active"
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return TenantRef(id=row.id, slug=row.slug, name=row.name, region=row.region)
