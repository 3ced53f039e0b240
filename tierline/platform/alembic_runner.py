"""Run Alembic migrations on a given connection without loading a full environment per schema.

The revision scripts are parsed once per process; upgrading a schema then costs one
``MigrationContext`` on an already-open connection, inside the caller's transaction (PostgreSQL
DDL is transactional, so a schema is always at one consistent revision).

Alembic's ``op`` proxy is one process-wide global, so two upgrades interleaving on one event
loop (or two threads) would send one schema's DDL down the other's connection. ``run_upgrade``
therefore serialises upgrades: an asyncio lock per event loop (so a waiting task never blocks
its loop) and a thread lock inside the synchronous part (for a second loop in another thread).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

Stream = Literal["control", "tenant"]

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(stream: Stream) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / stream))
    return cfg


@lru_cache(maxsize=2)
def script_directory(stream: Stream) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(stream))


def head_revision(stream: Stream) -> str:
    head = script_directory(stream).get_current_head()
    if head is None:
        raise RuntimeError(f"the {stream} migration stream has no revisions")
    return head


_thread_lock = threading.Lock()
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _loop_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _loop_locks.get(loop)
    if lock is None:
        lock = _loop_locks[loop] = asyncio.Lock()
    return lock


async def run_upgrade(connection: AsyncConnection, stream: Stream, schema: str | None) -> str:
    """Upgrade through an async connection (in its open transaction), one upgrade at a time."""
    async with _loop_lock():
        revision: str = await connection.run_sync(_locked_upgrade, stream, schema)
    return revision


def _locked_upgrade(connection: Connection, stream: Stream, schema: str | None) -> str:
    with _thread_lock:
        return upgrade_connection(connection, stream, schema)


def upgrade_connection(connection: Connection, stream: Stream, schema: str | None = None) -> str:
    """Upgrade what ``connection`` sees to head; return the revision reached.

    For the tenant stream the caller has already set ``search_path`` to the tenant schema;
    the version table is written into that schema too.
    """
    script = script_directory(stream)

    def upgrade_steps(rev: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs("head", rev)

    opts: dict[str, Any] = {"fn": upgrade_steps, "script": script, "transactional_ddl": True}
    if schema is not None:
        opts["version_table_schema"] = schema
    context = MigrationContext.configure(connection=connection, opts=opts)
    with Operations.context(context):
        context.run_migrations()
    return head_revision(stream)
