"""New tenant schemas from one SQL script per region: the tenant migrations, recorded once.

Running Alembic for each new tenant cost most of a provisioning (and grows with every revision):
Python builds and compiles every operation again, and each statement is a round trip. Instead,
once per process and region, the tenant migrations run on a scratch schema inside a transaction
that is then rolled back (nothing is left behind, nothing goes stale, processes cannot collide),
and every statement they send is recorded. Provisioning replays the recording as one script in a
single round trip, inside its own transaction, with ``search_path`` on the new schema.

Replaying what Alembic sent, rather than rendering the result back from the catalog (what
``pg_dump`` does), builds exactly what Alembic builds: PostgreSQL does not always parse its own
rendering of an expression back into the same stored form (a ``CHECK (status IN ('a', 'b'))``
on a ``varchar`` column comes back with a cast per element). ``tests/tenants`` compares a
provisioned schema with one Alembic built, catalog by catalog.

Decisions a migration takes in Python are taken once, for the scratch schema: one that reads the
database (is an extension installed?) sees the same database; one that draws random values gives
every tenant the same. A recording that names the scratch schema, or carries a parameter that
cannot be written as a literal, is refused and provisioning runs Alembic instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tierline.platform.alembic_runner import head_revision, run_upgrade

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "tl_template_"

# (statement, parameters, executemany) as the driver received them
Recorded = tuple[str, Any, bool]


class TemplateUnsupported(Exception):
    """The recorded migrations cannot be replayed as a script; Alembic must run."""


@dataclass(frozen=True)
class SchemaScript:
    """Builds a tenant schema at ``revision`` in the empty schema ``search_path`` names."""

    revision: str
    sql: str
    # Extensions the recorded run installed (name, schema); the others were there already.
    extensions: tuple[tuple[str, str], ...] = ()


# (region database, head revision) -> script, or None once the recording was refused.
_scripts: dict[tuple[str, str], SchemaScript | None] = {}


async def schema_script(engine: AsyncEngine) -> SchemaScript | None:
    """The script for ``engine``'s database, recorded on first use; None: use Alembic."""
    key = (engine.url.render_as_string(hide_password=True), head_revision("tenant"))
    if key in _scripts:
        return _scripts[key]
    try:
        script: SchemaScript | None = await render_script(engine)
    except TemplateUnsupported as exc:
        log.warning("tenant schemas will be built by Alembic (no template): %s", exc)
        script = None
    except Exception as exc:  # a passing failure: this provisioning runs Alembic, the next retries
        log.warning("could not record the tenant schema template: %s", exc)
        return None
    _scripts[key] = script
    return script


def forget_scripts() -> None:
    """Drop every recorded script (the next provisioning records again)."""
    _scripts.clear()


async def build_schema(conn: AsyncConnection, schema: str, script: SchemaScript | None) -> str:
    """Bring the new, empty ``schema`` (``search_path`` already set to it, in the caller's
    transaction) to head with ``script``, else with Alembic; return the revision reached."""
    if script is not None and await _extensions_ready(conn, script):
        await run_script(conn, script.sql)
        return script.revision
    return await run_upgrade(conn, "tenant", schema)


async def run_script(conn: AsyncConnection, sql: str) -> None:
    """Run ``sql`` (many statements) in one round trip, in ``conn``'s open transaction."""
    raw = await conn.get_raw_connection()
    # asyncpg's simple-query path; SQLAlchemy's prepares, which allows one statement only.
    await raw.driver_connection.execute(sql)  # type: ignore[union-attr]


async def _extensions_ready(conn: AsyncConnection, script: SchemaScript) -> bool:
    """Install the extensions the recorded run installed, as a migration does (a refusal is
    harmless), before the script's own ``CREATE EXTENSION`` could fail it. False when one is
    still missing: Alembic decides then (the migration may take another way)."""
    missing = []
    for name, schema in script.extensions:
        try:
            async with conn.begin_nested():
                await conn.exec_driver_sql(
                    f'CREATE EXTENSION IF NOT EXISTS "{name}" SCHEMA "{schema}"'
                )
        except DBAPIError:
            missing.append(name)
    if not missing:
        return True
    found = await conn.execute(
        text("SELECT count(*) FROM pg_extension WHERE extname = ANY(:n)"), {"n": missing}
    )
    return found.scalar() == len(missing)


async def render_script(engine: AsyncEngine) -> SchemaScript:
    """Run the tenant migrations on a scratch schema, recorded, and roll everything back."""
    scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:16]}"
    recorded: list[Recorded] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        recorded.append((statement, parameters, many))

    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            before = set(await _extensions(conn))
            await conn.exec_driver_sql(f'CREATE SCHEMA "{scratch}"')
            await conn.exec_driver_sql(f'SET LOCAL search_path TO "{scratch}"')
            event.listen(conn.sync_connection, "after_cursor_execute", record)
            try:
                # No version-table schema: Alembic then names none, it finds its table (and
                # creates it) through ``search_path`` like every other table.
                revision = await run_upgrade(conn, "tenant", None)
            finally:
                event.remove(conn.sync_connection, "after_cursor_execute", record)
            added = tuple(sorted(set(await _extensions(conn)) - before))
        finally:
            await transaction.rollback()
    return SchemaScript(revision, to_script(recorded, scratch), added)


async def _extensions(conn: AsyncConnection) -> list[tuple[str, str]]:
    found = await conn.execute(
        text(
            "SELECT e.extname, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace"
        )
    )
    return [(r[0], r[1]) for r in found]


def to_script(recorded: Sequence[Recorded], scratch: str) -> str:
    """One script replaying ``recorded``; statements with parameters run as prepared ones."""
    parts = []
    for number, (statement, parameters, many) in enumerate(recorded):
        if not parameters:
            parts.append(statement)
            continue
        name = f"tl_template_statement_{number}"
        rows = parameters if many else [parameters]
        parts.append(f"PREPARE {name} AS {statement}")
        parts += [f"EXECUTE {name}({', '.join(literal(v) for v in row)})" for row in rows]
        parts.append(f"DEALLOCATE {name}")
    # A newline before each ';' ends a trailing '--' comment first.
    sql = "\n;\n".join(parts) + "\n;"
    if scratch in sql:
        raise TemplateUnsupported(f"a migration names its schema ({scratch})")
    return sql


def literal(value: Any) -> str:
    """``value`` as an SQL literal whose type the prepared statement's parameter decides."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):  # quoted: 'NaN' and 'Infinity' read back too
        return _quoted(repr(value) if isinstance(value, float) else str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return _quoted("\\x" + bytes(value).hex())
    if isinstance(value, datetime | date | time):
        return _quoted(value.isoformat())
    if isinstance(value, str | uuid.UUID):
        return _quoted(str(value))
    raise TemplateUnsupported(f"a migration passes a {type(value).__name__} parameter")


def _quoted(value: str) -> str:
    """A string literal that reads the same whatever ``standard_conforming_strings`` says."""
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
