"""Reconciliations stored, paged by money at stake (masked without a codec), approved by a
second person and written back in the ERP's layout, which the ERP preset reads back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from tests.masterdata.importing.test_import import LINES, load, write
from tests.masterdata.network.test_network_imports import MARC, load_network
from tierline.inventory.reconciliation import service
from tierline.inventory.reconciliation.writeback import WritebackRefused
from tierline.masterdata.network.models import ErpParameters
from tierline.masterdata.profiles.presets import presets
from tierline.platform.audit import verify_chain
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

PLANNER, APPROVER = Actor("planner@example.com"), Actor("approver@example.com")
AS_OF = dt.date(2026, 3, 1)
RECOMMENDED = pl.DataFrame(
    {
        "sku": ["S1", "S2", "S1"],
        "location_code": ["P1", "P1", "W1"],
        "segment_code": ["gold", "silver", "gold"],
        "policy_type": ["s_q", "r_s", "s_q"],
        "safety_stock": [60.0, 150.0, 12.0],
        "reorder_point": [150.0, 400.0, 30.0],
        "order_up_to": [None, 500.0, None],
        "lead_time_mean": [21.0, 14.0, 3.0],
    }
)


async def prepared(runtime: Runtime, tenant: TenantRef, tmp_path: Path) -> None:
    await load_network(runtime, tenant, tmp_path)
    for entity, content, profile in (
        ("order_lines", LINES, None),
        ("erp_parameters", MARC, "sap_mrp_parameters"),
    ):
        result = await load(
            runtime, tenant, entity, write(tmp_path, f"{entity}.csv", content), profile
        )
        assert result.status == "applied", result.errors


async def test_reconcile_store_approve_and_write_back(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await prepared(runtime, tenant, tmp_path)
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant) as s:
        reconciled = await service.compare_with_erp(await s.connection(), RECOMMENDED, codec, AS_OF)
        header = await service.store_reconciliation(s, reconciled, codec, PLANNER, AS_OF)
        rid = header.id
    async with tenant_session(tenant) as s:
        opened = await service.rows_page(s, rid, codec)
        masked = await service.rows_page(s, rid, None)
    assert opened.total == 3 and not opened.masked and masked.masked
    assert [r["value_delta"] for r in masked.rows] == [None, None, None]
    first = opened.rows[0]
    # S1 sells at 240.50 - 60.25 for 24 EA and 120 - 30 for 12 EA: 270.25 / 36 per EA;
    # S2 at (99.90 + 5.10) / 10. Money at stake ranks S2 (30 EA more at 10.50) first.
    assert (first["sku"], first["location_code"]) == ("S2", "P1")
    assert first["value_delta"] == pytest.approx(30 * 10.5)
    s1 = next(r for r in opened.rows if (r["sku"], r["location_code"]) == ("S1", "P1"))
    assert s1["value_delta"] == pytest.approx(12 * 270.25 / 36)
    assert s1["erp_uom"] == "CS" and s1["proposed_reorder_point"] == 13.0  # 150 EA in cases
    async with tenant_session(tenant) as s:
        with pytest.raises(WritebackRefused, match="open"):
            await service.writeback(s, rid, presets()["sap_mrp_parameters"], PLANNER)
        await service.submit(s, rid, PLANNER)
    async with tenant_session(tenant) as s:
        with pytest.raises(service.ReconciliationRefused, match="four eyes"):
            await service.decide(s, rid, "approve", PLANNER, "mine")
    async with tenant_session(tenant) as s:
        await service.decide(s, rid, "approve", APPROVER, "checked against the simulation")
    async with tenant_session(tenant) as s:
        body = await service.writeback(s, rid, presets()["sap_mrp_parameters"], APPROVER)
    text = body.decode("utf-8")
    assert text.splitlines()[0].startswith("MATNR;WERKS;DISMM;MINBE;EISBE;PLIFZ")
    # The ERP's own upload path (the same preset) takes the file back: the ERP then holds the
    # recommended values (in base units), as the write-back promised.
    result = await load(
        runtime, tenant, "erp_parameters", write(tmp_path, "back.csv", body), "sap_mrp_parameters"
    )
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        rows = {(r.sku, r.location_code): r for r in await s.scalars(select(ErpParameters))}
        audit = await verify_chain(s)
    assert float(rows[("S1", "P1")].reorder_point) == 156.0  # 13 cases of 12
    kept = rows[("S1", "P1")]  # the rest of the record as it was: nothing blanked
    assert (kept.uom, kept.days_basis, float(kept.min_lot)) == ("CS", "working", 24.0)
    assert float(kept.planned_delivery_days) == 21.0
    assert rows[("S2", "P1")].mrp_type == "R1" and float(rows[("S2", "P1")].safety_stock) == 150.0
    assert audit.ok


async def test_a_change_set_needs_changes_and_an_open_state(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await prepared(runtime, tenant, tmp_path)
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    same = RECOMMENDED.filter(pl.col("location_code") == "W1").with_columns(
        safety_stock=pl.lit(12.0), reorder_point=pl.lit(30.0)
    )
    async with tenant_session(tenant) as s:
        reconciled = await service.compare_with_erp(await s.connection(), same, codec, AS_OF)
        rid = (await service.store_reconciliation(s, reconciled, codec, PLANNER, AS_OF)).id
    async with tenant_session(tenant) as s:
        with pytest.raises(service.ReconciliationRefused, match="nothing to change"):
            await service.submit(s, rid, PLANNER)
    async with tenant_session(tenant) as s:
        with pytest.raises(service.ReconciliationRefused, match="open"):
            await service.decide(s, rid, "approve", APPROVER, "why not")
        with pytest.raises(service.ReconciliationNotFound):
            await service.find(s, rid + 1000)
