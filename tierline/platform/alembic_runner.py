"""Run Alembic migrations on a given connection without loading a full environment per schema.

The revision scripts are parsed once per process; upgrading a schema then costs one
``MigrationContext`` on an already-open connection, inside the caller's transaction (PostgreSQL
DDL is transactional, so a schema is always at one consistent revision).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

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
