"""A tenant schema built by the recorded template script is exactly the one Alembic builds."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantFactory
from tests.support.catalog import describe_schema, differences
from tierline.platform.alembic_runner import head_revision
from tierline.platform.runtime import Runtime
from tierline.tenants import template
from tierline.tenants.migrate import schema_revisions, upgrade_schema

# The first data key is written by provisioning, not by a migration (and differs per tenant).
PER_TENANT_ROWS = frozenset({"data_keys"})


@pytest.fixture
async def scratch(runtime: Runtime) -> AsyncIterator[list[tuple[AsyncEngine, str]]]:
    """Schemas a test creates by hand, dropped afterwards."""
    made: list[tuple[AsyncEngine, str]] = []
    yield made
    for engine, schema in made:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def alembic_schema(engine: AsyncEngine, scratch: list[tuple[AsyncEngine, str]]) -> str:
    """A schema built by running every tenant migration from empty."""
    schema = f"tl_alembic_{uuid.uuid4().hex[:12]}"
    scratch.append((engine, schema))
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    await upgrade_schema(engine, schema)
    return schema


@pytest.mark.parametrize("region", ["eu", "us"])
async def test_provisioned_schema_is_what_alembic_builds(
    runtime: Runtime,
    make_tenant: TenantFactory,
    scratch: list[tuple[AsyncEngine, str]],
    region: str,
) -> None:
    engine = runtime.databases.region(region)
    assert await template.schema_script(engine) is not None, "provisioning would run Alembic"
    provisioned = await make_tenant(region)
    reference = await alembic_schema(engine, scratch)

    ours = await describe_schema(engine, provisioned.schema, PER_TENANT_ROWS)
    theirs = await describe_schema(engine, reference, PER_TENANT_ROWS)
    assert differences(ours, theirs) == []
    assert ours == theirs
    assert len(ours["tables"]) > 30 and len(ours["triggers"]) >= 5 and ours["functions"]
    stamp = json.dumps([{"version_num": head_revision("tenant")}], separators=(",", ":"))
    assert ("alembic_version", stamp) in ours["rows"]
    async with engine.connect() as conn:
        keys = await conn.execute(text(f'SELECT count(*) FROM "{provisioned.schema}".data_keys'))
        assert keys.scalar() == 1  # the first data key, written with the schema
    # ``tierline migrate`` finds it current
    revisions = await schema_revisions(engine, [provisioned.schema])
    assert revisions == {provisioned.schema: head_revision("tenant")}


async def test_without_a_template_alembic_builds_the_same_schema(
    runtime: Runtime, make_tenant: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runtime.databases.region("eu")
    with_template = await make_tenant("eu")

    async def no_template(_engine: AsyncEngine) -> None:
        return None

    monkeypatch.setattr(template, "schema_script", no_template)
    with_alembic = await make_tenant("eu")
    ours = await describe_schema(engine, with_template.schema, PER_TENANT_ROWS)
    theirs = await describe_schema(engine, with_alembic.schema, PER_TENANT_ROWS)
    assert differences(ours, theirs) == []
    revisions = await schema_revisions(engine, [with_alembic.schema])
    assert revisions == {with_alembic.schema: head_revision("tenant")}


async def test_statements_with_parameters_are_replayed_with_them(
    runtime: Runtime, scratch: list[tuple[AsyncEngine, str]]
) -> None:
    """What a migration passes as parameters (one row, or many) reaches the new schema."""
    engine = runtime.databases.region("eu")
    schema = f"tl_params_{uuid.uuid4().hex[:12]}"
    scratch.append((engine, schema))
    one = (None, True, -(2**62), 0.1, Decimal("1.10"), "it's", b"\x00'", date(1999, 12, 31))
    many = [(1, False, 2, 0.5, Decimal(3), "b", b"", date(2000, 1, 1))] * 2
    recorded = [
        ("CREATE TABLE kept (n int, b boolean, i bigint, f float8, d numeric, s text, "
         "y bytea, day date)", (), False),
        ("INSERT INTO kept VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", one, False),
        ("-- trailing comment\nCREATE INDEX ix_kept ON kept (n) -- and one here", (), False),
        ("INSERT INTO kept VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", many, True),
    ]  # fmt: skip
    steps = template.to_steps(recorded, "tl_template_x")
    assert [rows is None for _sql, rows in steps] == [True, False, True, False]
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        await template.run_steps(conn, steps)
        rows = (await conn.execute(text("SELECT * FROM kept"))).all()
        index = await conn.execute(text("SELECT to_regclass('ix_kept')"))
        assert index.scalar() is not None
    assert [tuple(r) for r in rows] == [one, *many]


def test_a_recording_that_names_its_schema_is_refused() -> None:
    with pytest.raises(template.TemplateUnsupported, match="names its schema"):
        template.to_steps([("CREATE TABLE tl_template_x.t (a int)", (), False)], "tl_template_x")
    with pytest.raises(template.TemplateUnsupported, match="names its schema"):
        template.to_steps([("SELECT $1", ("tl_template_x",), False)], "tl_template_x")


async def test_a_missing_extension_the_script_needs_means_alembic_decides(
    runtime: Runtime, scratch: list[tuple[AsyncEngine, str]]
) -> None:
    engine = runtime.databases.region("eu")
    schema = f"tl_noext_{uuid.uuid4().hex[:12]}"
    scratch.append((engine, schema))
    needs = template.SchemaScript(
        "t-never", (("SELECT 1/0", None),), (("tl_no_such_extension", "public"),)
    )
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        assert await template.build_schema(conn, schema, needs) == head_revision("tenant")
    assert (await schema_revisions(engine, [schema]))[schema] == head_revision("tenant")
