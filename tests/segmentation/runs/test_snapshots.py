"""A run's archived feature snapshot holds per-customer revenue and margin: a backup of the
region database must not reveal them without the master key. Sealed when written, bound to its
run, rewritten by key rotation, still verifiable; snapshots an older release kept in clear are
sealed by ``tierline migrate``."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from tests.support.dumps import opened_blobs, pg_dump
from tierline.platform.alembic_runner import script_directory
from tierline.platform.control_plane import Tenant
from tierline.platform.encryption import key_version_of
from tierline.platform.encryption.jobs import rotate_keys
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.users import SYSTEM, Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import RunSnapshot
from tierline.segmentation.runs.service import run_scheme
from tierline.segmentation.runs.snapshots import PARQUET_MAGIC
from tierline.segmentation.runs.verify import RunNotVerifiable, verify_run
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish
from tierline.tenants import migrate
from tierline.tenants.migrate import migrate_all

ACTOR = Actor("planner@example.com")
# One order line per customer, so each customer's revenue and margin in the snapshot are these.
MONEY = {
    "C1": (731947.13, 201733.29),
    "C2": (488120.57, 97624.11),
    "C3": (52311.83, 4184.95),
    "C4": (9127.61, 1368.14),
}
Maker = Callable[..., Awaitable[None]]
BEFORE = "t0014"  # the schema revision before snapshots were sealed
STEP = "tierline.segmentation.runs.snapshots:seal_plaintext_snapshots"


def _leaks(dump: bytes) -> list[str]:
    """The money values (revenue, margin, margin %) that reading the dump reveals."""
    opened = opened_blobs(dump)
    found = []
    for code, (revenue, margin) in MONEY.items():
        for name, value in (("revenue", revenue), ("margin", margin), ("pct", margin / revenue)):
            as_text = repr(value).encode()
            as_bytes = (struct.pack("<d", value), struct.pack(">d", value))
            if as_text in dump or any(
                as_text in blob or any(b in blob for b in as_bytes) for blob in opened
            ):
                found.append(f"{code} {name} {value}")
    return found


@pytest.fixture
async def priced(
    make_tenant: Any, make_customers: Maker, make_products: Maker, make_order_lines: Maker
) -> TenantRef:
    tenant: TenantRef = await make_tenant()
    await make_customers(tenant, *MONEY)
    await make_products(tenant, "SKU1")
    await make_order_lines(
        tenant,
        [
            {"customer_code": code, "sku": "SKU1", "revenue": revenue, "margin": margin}
            for code, (revenue, margin) in MONEY.items()
        ],
    )
    return tenant


async def _run(runtime: Runtime, tenant: TenantRef, code: str = "cust_snap") -> Any:
    source = load_template("customer_service").replace("cust_service", code)
    async with tenant_session(tenant, runtime.databases) as s:
        await create_scheme(s, source, ACTOR)
        await publish(s, code, ACTOR)
    return await run_scheme(runtime, tenant, code, actor=ACTOR)


async def _stored(tenant: TenantRef, run_id: Any) -> bytes:
    async with tenant_session(tenant) as s:
        blob = await s.scalar(select(RunSnapshot.features).where(RunSnapshot.run_id == run_id))
    assert blob is not None
    return bytes(blob)


async def test_a_backup_reveals_no_money_from_run_snapshots(
    runtime: Runtime, priced: TenantRef
) -> None:
    outcome = await _run(runtime, priced)
    stored = await _stored(priced, outcome.run_id)
    assert stored[:4] != PARQUET_MAGIC and key_version_of(stored) == 1  # sealed, key version 1

    dump = await asyncio.to_thread(pg_dump, runtime, priced.schema)

    assert stored.hex().encode() in dump  # the snapshot is in the backup ...
    assert _leaks(dump) == []  # ... and nothing in the backup opens to the money
    check = await verify_run(runtime, priced, outcome.run_id)  # the run still verifies
    assert check.matches and check.digest_ok and check.entities == len(MONEY)


async def test_a_snapshot_opens_only_for_its_own_run(runtime: Runtime, priced: TenantRef) -> None:
    first = await _run(runtime, priced, "cust_one")
    second = await _run(runtime, priced, "cust_two")
    async with tenant_session(priced) as s:
        await s.execute(
            update(RunSnapshot)
            .where(RunSnapshot.run_id == second.run_id)
            .values(features=await _stored(priced, first.run_id))
        )
    with pytest.raises(RunNotVerifiable, match="does not open"):
        await verify_run(runtime, priced, second.run_id)
    assert (await verify_run(runtime, priced, first.run_id)).matches


async def test_key_rotation_rewrites_snapshots(runtime: Runtime, priced: TenantRef) -> None:
    outcome = await _run(runtime, priced)
    result = await rotate_keys(runtime, priced, SYSTEM, batch_size=2)
    assert result["columns"]["run_snapshots.features"] == 1 and result["unreadable"] == 0
    assert key_version_of(await _stored(priced, outcome.run_id)) == 2
    assert (await verify_run(runtime, priced, outcome.run_id)).matches


async def test_migrate_seals_snapshots_an_older_release_kept_in_clear(
    runtime: Runtime, priced: TenantRef
) -> None:
    outcome = await _run(runtime, priced)
    # What releases before sealing stored: the same Parquet document, in clear.
    codec = await load_codec(priced, kms_from_settings(runtime.settings))
    clear = codec.decrypt(
        await _stored(priced, outcome.run_id),
        table="run_snapshots",
        column="features",
        row_key=str(outcome.run_id),
    )
    assert isinstance(clear, bytes) and clear[:4] == PARQUET_MAGIC
    async with tenant_session(priced) as s:
        await s.execute(
            text("UPDATE run_snapshots SET features = :f WHERE run_id = :r"),
            {"f": clear, "r": outcome.run_id},
        )
    # ... under the previous schema revision (really downgraded: later revisions' tables go),
    # recorded so in the control database.
    async with runtime.databases.region("eu").begin() as conn:
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{priced.schema}"')
        await conn.run_sync(_downgrade, priced.schema, BEFORE)
    async with runtime.databases.control.begin() as conn:
        await conn.execute(
            update(Tenant).where(Tenant.slug == priced.slug).values(schema_revision=BEFORE)
        )
    leaked = await asyncio.to_thread(pg_dump, runtime, priced.schema)
    assert len(_leaks(leaked)) >= len(MONEY)  # the scan finds money in a clear snapshot
    assert (await verify_run(runtime, priced, outcome.run_id)).matches  # old snapshots still read

    report = await migrate_all(runtime.databases, runtime=runtime)

    mine = next(r for r in report.results if r.slug == priced.slug)
    assert (mine.before, mine.status, mine.error) == (BEFORE, "upgraded", None), mine.error
    assert mine.data_changes == {STEP: 1}
    assert await _recorded(runtime, priced) == mine.after
    assert (await _stored(priced, outcome.run_id))[:4] != PARQUET_MAGIC
    assert _leaks(await asyncio.to_thread(pg_dump, runtime, priced.schema)) == []
    assert (await verify_run(runtime, priced, outcome.run_id)).matches
    again = await migrate_all(runtime.databases, runtime=runtime)  # nothing left to do
    assert next(r for r in again.results if r.slug == priced.slug).data_changes == {}


def _downgrade(connection: Connection, schema: str, revision: str) -> None:
    """Run the tenant stream's downgrades on ``connection`` until ``revision``."""
    script = script_directory("tenant")

    def steps(rev: Any, _context: MigrationContext) -> Any:
        return script._downgrade_revs(revision, rev)

    opts = {"fn": steps, "script": script, "version_table_schema": schema}
    context = MigrationContext.configure(connection=connection, opts=opts)
    with Operations.context(context):
        context.run_migrations()


async def test_a_failed_data_step_leaves_the_tenant_behind_until_it_succeeds(
    runtime: Runtime, priced: TenantRef
) -> None:
    outcome = await _run(runtime, priced)
    codec = await load_codec(priced, kms_from_settings(runtime.settings))
    clear = codec.decrypt(
        await _stored(priced, outcome.run_id),
        table="run_snapshots",
        column="features",
        row_key=str(outcome.run_id),
    )
    async with tenant_session(priced) as s:
        await s.execute(
            text("UPDATE run_snapshots SET features = :f WHERE run_id = :r"),
            {"f": clear, "r": outcome.run_id},
        )
    async with runtime.databases.control.begin() as conn:
        await conn.execute(
            update(Tenant).where(Tenant.slug == priced.slug).values(schema_revision=BEFORE)
        )
    calls: list[str] = []

    async def failing(_runtime: Runtime, tenant: TenantRef) -> int:
        calls.append(tenant.slug)
        raise RuntimeError("disk full")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrate, "_data_steps", lambda: [("broken:step", failing)])
        report = await migrate.migrate_all(runtime.databases, runtime=runtime)
    mine = next(r for r in report.results if r.slug == priced.slug)
    assert calls.count(priced.slug) == 1
    assert mine.status == "failed"
    assert "data step broken:step: RuntimeError: disk full" in (mine.error or "")
    assert await _recorded(runtime, priced) == BEFORE  # still refused as behind

    report = await migrate.migrate_all(runtime.databases, runtime=runtime)
    mine = next(r for r in report.results if r.slug == priced.slug)
    assert mine.status == "current" and mine.data_changes == {STEP: 1}
    assert await _recorded(runtime, priced) == mine.after
    assert (await _stored(priced, outcome.run_id))[:4] != PARQUET_MAGIC


async def _recorded(runtime: Runtime, tenant: TenantRef) -> str | None:
    async with runtime.databases.control.connect() as conn:
        found: str | None = await conn.scalar(
            select(Tenant.schema_revision).where(Tenant.slug == tenant.slug)
        )
    return found
