"""Network and supply data load like other master data: atomic, per-row reasons, presets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.masterdata.importing.test_import import count, load, load_base, write
from tierline.masterdata.network.lanes import find_cycles
from tierline.masterdata.network.models import (
    DemandForecast,
    ErpParameters,
    OpenSupply,
    Promotion,
    SourcingLane,
)
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

LOCATIONS = """code,name,kind,echelon,capacity
P1,Plant North,plant,1,100000
DC1,DC Central,dc,2,50000
W1,Warehouse West,warehouse,3,10000
W2,Warehouse East,warehouse,3,
"""
SUPPLIERS = "code,name,country\nSUP1,Oils Ltd,ES\n"
LANES = """location_code,source_code,source_kind,planned_lead_time_days,calendar
DC1,P1,location,5,working
W1,DC1,location,2,calendar
W2,DC1,location,3,
P1,SUP1,supplier,21,calendar
"""


async def load_network(runtime: Runtime, tenant: TenantRef, tmp_path: Path) -> None:
    await load_base(runtime, tenant, tmp_path)
    for entity, content in (("locations", LOCATIONS), ("suppliers", SUPPLIERS)):
        result = await load(runtime, tenant, entity, write(tmp_path, f"{entity}.csv", content))
        assert result.status == "applied", result.errors


async def test_lanes_load_with_calendars_and_refuse_a_cycle_naming_it(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    first = await load(runtime, tenant, "sourcing_lanes", write(tmp_path, "l.csv", LANES))
    assert first.status == "applied", first.errors
    async with tenant_session(tenant) as s:
        lanes = {(r.location_code, r.source_code): r for r in await s.scalars(select(SourcingLane))}
    assert lanes[("DC1", "P1")].calendar == "working"
    assert lanes[("W2", "DC1")].calendar == "calendar"  # the default
    assert lanes[("P1", "SUP1")].planned_lead_time_days == Decimal(21)
    # P1 sourced from W1 closes P1 <- W1 <- DC1 <- P1 with the stored lanes: refused, named.
    cyclic = "location_code,source_code,source_kind,planned_lead_time_days\nP1,W1,location,4\n"
    refused = await load(runtime, tenant, "sourcing_lanes", write(tmp_path, "c.csv", cyclic))
    assert refused.status == "rejected"
    [error] = refused.errors
    assert error["line"] == 2 and error["column"] == "source_code"
    assert "lane cycle" in error["reason"]
    assert all(code in error["reason"] for code in ("P1", "W1", "DC1"))
    assert await count(tenant, SourcingLane) == 4  # nothing half-applied


async def test_lane_sources_must_exist_as_their_kind(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    bad = """location_code,source_code,source_kind,planned_lead_time_days,calendar
DC1,SUP1,location,5,calendar
W1,NOPE,supplier,2,calendar
W2,DC1,location,-3,fortnightly
W1,W1,location,1,calendar
"""
    result = await load(runtime, tenant, "sourcing_lanes", write(tmp_path, "b.csv", bad))
    assert result.status == "rejected"
    reasons = {(e["line"], e["column"]): e["reason"] for e in result.errors}
    assert reasons[(2, "source_code")] == "unknown location 'SUP1'"
    assert reasons[(3, "source_code")] == "unknown supplier 'NOPE'"
    assert (4, "planned_lead_time_days") in reasons and (4, "calendar") in reasons
    assert "lane cycle: W1 ← W1" in reasons[(5, "source_code")]
    assert await count(tenant, SourcingLane) == 0


async def test_open_supply_forecasts_and_promotions_load(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    supply = """order_no,line_no,kind,sku,location_code,source_code,quantity,due_date
PO1,1,purchase_order,S1,P1,SUP1,500,2027-01-15
TR9,1,transfer,S1,W1,DC1,40,2026-12-20
"""
    forecasts = "sku,location_code,period_start,quantity\nS1,W1,2027-01-04,120\n"
    promos = "sku,location_code,starts_on,ends_on,uplift\nS1,W1,2027-02-01,2027-02-14,0.35\n"
    for entity, content in (
        ("open_supply", supply),
        ("demand_forecasts", forecasts),
        ("promotions", promos),
    ):
        result = await load(runtime, tenant, entity, write(tmp_path, f"{entity}.csv", content))
        assert result.status == "applied", (entity, result.errors)
    async with tenant_session(tenant) as s:
        po = await s.get(OpenSupply, ("PO1", 1))
        forecast = (await s.scalars(select(DemandForecast))).one()
        promo = (await s.scalars(select(Promotion))).one()
    assert po is not None and po.kind == "purchase_order" and po.quantity == Decimal(500)
    assert forecast.period_days == 7 and forecast.quantity == Decimal(120)
    assert promo.uplift == Decimal("0.35")


async def test_bad_supply_rows_get_reasons_and_nothing_lands(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    promos = """sku,location_code,starts_on,ends_on,uplift
S1,W1,2027-02-01,2027-02-14,0.35
S1,W1,2027-03-10,2027-03-01,0.2
S9,W1,2027-03-10,2027-03-20,0.2
"""
    result = await load(runtime, tenant, "promotions", write(tmp_path, "p.csv", promos))
    assert result.status == "rejected"
    reasons = {(e["line"], e["column"]): e["reason"] for e in result.errors}
    assert reasons[(3, "ends_on")] == "ends before it starts"
    assert reasons[(4, "sku")] == "unknown product 'S9'"
    assert await count(tenant, Promotion) == 0


MARC = """Tabelle: MARC
MATNR;WERKS;DISMM;MINBE;EISBE;PLIFZ;WEBAZ;BSTMI;BSTRF;MABST;MEINS;DAY_UNIT
S1;P1;VB;10,5;4;21;1;2;1;50;KAR;AT
S2;P1;PD;0;120;14;2;0;0;0;;KT
S1;W1;VB;30;12;3;0;0;0;0;;
"""


async def test_sap_mrp_parameters_convert_units_and_keep_the_erp_unit(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    path = write(tmp_path, "marc.csv", MARC)
    result = await load(runtime, tenant, "erp_parameters", path, "sap_mrp_parameters")
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        rows = {(r.sku, r.location_code): r for r in await s.scalars(select(ErpParameters))}
    cased = rows[("S1", "P1")]
    # 10,5 cases of 12 are 126 base units; the ERP's unit is kept for the write-back.
    assert cased.reorder_point == Decimal(126) and cased.safety_stock == Decimal(48)
    assert (cased.min_lot, cased.max_stock) == (Decimal(24), Decimal(600))
    assert cased.uom == "CS" and cased.days_basis == "working" and cased.mrp_type == "VB"
    assert rows[("S2", "P1")].uom == "EA" and rows[("S2", "P1")].days_basis == "calendar"
    assert rows[("S1", "W1")].days_basis == "calendar"
    assert rows[("S1", "W1")].planned_delivery_days == Decimal(3)


async def test_mrp_file_with_unknown_types_day_units_and_units_is_refused_per_row(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_network(runtime, tenant, tmp_path)
    bad = """MATNR;WERKS;DISMM;MINBE;EISBE;PLIFZ;WEBAZ;BSTMI;BSTRF;MABST;MEINS;DAY_UNIT
S1;P1;ZZ;10;4;21;1;2;1;50;;KT
S1;W1;VB;10;4;21;1;2;1;50;;WK
S2;W1;VB;10;4;21;1;2;1;50;KAR;KT
S2;W2;VB;10;4;21;1;60;1;5;;KT
"""
    path = write(tmp_path, "marc.csv", bad)
    result = await load(runtime, tenant, "erp_parameters", path, "sap_mrp_parameters")
    assert result.status == "rejected"
    reasons = {(e["line"], e["column"]): e["reason"] for e in result.errors}
    values = {(e["line"], e["column"]): e["value"] for e in result.errors}
    assert reasons[(2, "mrp_type")].startswith("must be one of: PD, VB")
    assert values[(2, "mrp_type")] == "ZZ"
    assert reasons[(3, "days_basis")] == "must be one of: calendar, working"
    assert values[(3, "days_basis")] == "WK"
    assert reasons[(4, "uom")] == "no conversion from CS to base unit EA for SKU S2"
    assert reasons[(5, "max_stock")] == "maximum stock level below the reorder point"
    assert len(reasons) == 4
    assert await count(tenant, ErpParameters) == 0


def test_find_cycles_names_each_cycle_once_from_its_smallest_location() -> None:
    lanes = [("A", "B"), ("B", "A"), ("C", "D"), ("D", "E"), ("E", "C"), ("F", "C")]
    assert find_cycles(lanes) == [["A", "B"], ["C", "D", "E"]]
    assert find_cycles([("W1", "W1")]) == [["W1"]]
    assert find_cycles([("W1", "DC"), ("W2", "DC"), ("DC", "P")]) == []


@given(st.lists(st.tuples(st.sampled_from("ABCDEFG"), st.sampled_from("ABCDEFG")), max_size=20))
def test_find_cycles_finds_one_exactly_when_the_lanes_are_not_a_forest_of_paths(
    lanes: list[tuple[str, str]],
) -> None:
    import graphlib

    graph: dict[str, set[str]] = {}
    for location, source in lanes:
        graph.setdefault(location, set()).add(source)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
        acyclic = True
    except graphlib.CycleError:
        acyclic = False
    found = find_cycles(lanes)
    assert (not found) == acyclic
    edges = set(lanes)
    for cycle in found:  # every reported cycle is made of real lanes
        assert all((c, cycle[(i + 1) % len(cycle)]) in edges for i, c in enumerate(cycle))


async def test_the_small_synthetic_network_loads_through_the_imports(
    seeded_tenant: TenantRef,
) -> None:
    from tierline.demo.synthetic import generate

    data = generate("small")
    for model, frame in (
        (SourcingLane, data.sourcing_lanes),
        (OpenSupply, data.open_supply),
        (DemandForecast, data.demand_forecasts),
        (Promotion, data.promotions),
        (ErpParameters, data.erp_parameters),
    ):
        assert await count(seeded_tenant, model) == frame.height > 0, model.__tablename__
    async with tenant_session(seeded_tenant) as s:
        cased = (
            await s.scalars(select(ErpParameters).where(ErpParameters.uom != "EA").limit(1))
        ).first()
    assert cased is not None  # kept in the ERP's own unit, quantities in base units
