"""New tenant schemas from one SQL script per region: the tenant migrations, recorded once.

Running Alembic for each new tenant cost most of a provisioning (and grows with every revision):
Python builds and compiles every operation again, and each statement is a round trip. Instead,
once per process and region, the tenant migrations run on a scratch schema inside a transaction
that is then rolled back (nothing is left behind, nothing goes stale, processes cannot collide),
and every statement they send is recorded. Provisioning replays the recording inside its own
transaction, with ``search_path`` on the new schema: the statements as one script in a single
round trip, but for the few with parameters (Alembic's look for its version table), which go
on their own with the values they had.

Replaying what Alembic sent, rather than rendering the result back from the catalog (what
``pg_dump`` does), builds exactly what Alembic builds: PostgreSQL does not always parse its own
rendering of an expression back into the same stored form (a ``CHECK (status IN ('a', 'b'))``
on a ``varchar`` column comes back with a cast per element). ``tests/tenants`` compares a
provisioned schema with one Alembic built, catalog by catalog.

Decisions a migration takes in Python are taken once, for the scratch schema: one that reads the
database (is an extension installed?) sees the same database; one that draws random values gives
every tenant the same. A recording that names the scratch schema is refused, and provisioning
runs Alembic instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tierline.platform.alembic_runner import head_revision, run_upgrade

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "tl_template_"

# (statement, parameters, executemany) as the driver received them
Recorded = tuple[str, Any, bool]
# (SQL, None) for a script of statements without parameters, else (statement, rows of them)
Step = tuple[str, tuple[tuple[Any, ...], ...] | None]


class TemplateUnsupported(Exception):
    """The recorded migrations cannot be replayed as a script; Alembic must run."""


@dataclass(frozen=True)
class SchemaScript:
    """Builds a tenant schema at ``revision`` in the empty schema ``search_path`` names."""

    revision: str
    steps: tuple[Step, ...]
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


async def build_schema(conn: AsyncConnection, schema: str, script: SchemaScript | None) -> str:
    """Bring the new, empty ``schema`` (``search_path`` already set to it, in the caller's
    transaction) to head with ``script``, else with Alembic; return the revision reached."""
    if script is not None and await _extensions_ready(conn, script):
        await run_steps(conn, script.steps)
        return script.revision
    return await run_upgrade(conn, "tenant", schema)


async def run_steps(conn: AsyncConnection, steps: Sequence[Step]) -> None:
    """Run ``steps`` in ``conn``'s open transaction: a script in one round trip (asyncpg's
    simple-query path; SQLAlchemy's prepares, which allows one statement only)."""
    raw: Any = (await conn.get_raw_connection()).driver_connection
    for sql, rows in steps:
        if rows is None:
            await raw.execute(sql)
        else:
            await raw.executemany(sql, rows)


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
    return SchemaScript(revision, to_steps(recorded, scratch), added)


async def _extensions(conn: AsyncConnection) -> list[tuple[str, str]]:
    found = await conn.execute(
        text(
            "SELECT e.extname, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace"
        )
    )
    return [(r[0], r[1]) for r in found]


def to_steps(recorded: Sequence[Recorded], scratch: str) -> tuple[Step, ...]:
    """``recorded`` as steps: each run of statements without parameters is one script; a
    statement with parameters is sent with them, as it was (the migrations have a couple)."""
    steps: list[Step] = []
    script: list[str] = []

    def end_script() -> None:
        if script:
            # A newline before each ';' ends a trailing '--' comment first.
            steps.append(("\n;\n".join(script) + "\n;", None))
            script.clear()

    for statement, parameters, many in recorded:
        if scratch in statement or scratch in repr(parameters):
            raise TemplateUnsupported(f"a migration names its schema ({scratch})")
        if not parameters:
            script.append(statement)
            continue
        end_script()
        rows = parameters if many else [parameters]
        steps.append((statement, tuple(tuple(row) for row in rows)))
    end_script()
    return tuple(steps)
