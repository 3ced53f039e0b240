"""Alembic environment for the tenant stream (used by the ``alembic`` CLI for authoring).

Revisions in this stream name no schema: they run with ``search_path`` set to one tenant schema.
``tierline migrate`` applies them to every tenant schema without loading this file.
Set ``TIERLINE_AUTHORING_SCHEMA`` to the schema to compare against when autogenerating.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

import tierline.platform.jobs.models  # noqa: F401
from tierline.platform.db import TENANT_SCHEMA, TenantBase
from tierline.platform.runtime import build_runtime

SCHEMA = os.environ.get("TIERLINE_AUTHORING_SCHEMA", "t_authoring")
REGION = os.environ.get("TIERLINE_AUTHORING_REGION", "eu")


def _run(connection: Connection) -> None:
    connection = connection.execution_options(schema_translate_map={TENANT_SCHEMA: SCHEMA})
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
    context.configure(
        connection=connection, target_metadata=TenantBase.metadata, version_table_schema=SCHEMA
    )
    with context.begin_transaction():
        connection.exec_driver_sql(f'SET LOCAL search_path TO "{SCHEMA}"')
        context.run_migrations()


async def _online() -> None:
    runtime = build_runtime()
    async with runtime.databases.region(REGION).connect() as conn:
        await conn.run_sync(_run)
    await runtime.close()


asyncio.run(_online())
