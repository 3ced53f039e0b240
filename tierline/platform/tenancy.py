"""The tenant unit of work: the one entry point for reading and writing a tenant's rows.

``tenant_session(tenant)`` picks the tenant's region engine, opens a transaction and binds the
tenant's schema twice: ``schema_translate_map`` writes the schema into every ORM/Core statement,
and ``SET LOCAL search_path`` (the tenant schema alone, no ``public``) covers raw SQL and COPY.
``SET LOCAL`` ends with the transaction, so nothing leaks to the next user of a pooled
connection, and it is set before any savepoint, so a savepoint rollback cannot undo it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.platform import changes
from tierline.platform.databases import Databases
from tierline.platform.db import TENANT_SCHEMA, schema_for
from tierline.platform.runtime import current_runtime, installed_runtime


class TenantNotFound(LookupError):
    """No active tenant has that slug (callers answer 404)."""


@dataclass(frozen=True)
class TenantRef:
    """What the unit of work needs to know about a tenant."""

    id: uuid.UUID
    slug: str
    name: str
    region: str
    status: str = "active"

    @functools.cached_property
    def schema(self) -> str:  # looked up on every request (caches are keyed by it): once
        return schema_for(self.slug)


async def _bind(conn: AsyncConnection, tenant: TenantRef) -> AsyncConnection:
    bound = await conn.execution_options(schema_translate_map={TENANT_SCHEMA: tenant.schema})
    # The schema name comes from a validated slug, so quoting it is enough.
    await bound.exec_driver_sql(f'SET LOCAL search_path TO "{tenant.schema}"')
    return bound


@asynccontextmanager
async def tenant_connection(
    tenant: TenantRef, databases: Databases | None = None
) -> AsyncIterator[AsyncConnection]:
    """A Core connection in one transaction bound to ``tenant``; commits on success, and then
    announces the change to every process (``changes``) if the transaction wrote anything."""
    dbs = databases or current_runtime().databases
    engine = await dbs.verified_region(tenant.region)
    async with engine.connect() as conn:
        async with conn.begin():
            changes.start_transaction(conn)
            yield await _bind(conn, tenant)
        if changes.wrote(conn):  # committed: tell the caches of every process
            await _announce(tenant)


async def _announce(tenant: TenantRef) -> None:
    runtime = installed_runtime()
    if runtime is not None:
        await changes.announce(await runtime.redis(), tenant.region, tenant.schema)


@asynccontextmanager
async def tenant_session(
    tenant: TenantRef, databases: Databases | None = None
) -> AsyncIterator[AsyncSession]:
    """An ORM session for one tenant in one transaction; commits on success, else rolls back.

    One session serves one tenant: the identity map ignores schemas.
    """
    async with tenant_connection(tenant, databases) as conn:
        session = AsyncSession(bind=conn, expire_on_commit=False, autoflush=True)
        try:
            yield session
            await session.flush()
        finally:
            await session.close()
