"""Alembic environment for the control-plane stream (used by the ``alembic`` CLI for authoring).

``tierline migrate`` does not load this file: it runs revisions through
``tierline.platform.alembic_runner`` on its own connection.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import tierline.platform.control_plane
import tierline.platform.jobs.models
import tierline.tenants.models  # noqa: F401
from tierline.platform.db import ControlBase
from tierline.platform.runtime import build_runtime


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=ControlBase.metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    runtime = build_runtime()
    async with runtime.databases.control.connect() as conn:
        await conn.run_sync(_run)
    await runtime.close()


asyncio.run(_online())
