"""Reconciling recommended policy numbers with the ERP's parameters: units, calendars, MRP
types, the change set and the write-back file in the ERP's layout."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from tierline.inventory.reconciliation.compare import (
    Mismatch,
    mismatch_names,
    reconcile,
    summary,
)
from tierline.inventory.reconciliation.writeback import (
    WritebackRefused,
    writeback_file,
    writeback_rows,
)
from tierline.masterdata.profiles.presets import presets


def recommended(**over: list[object]) -> pl.DataFrame:
    rows: dict[str, list[object]] = {
        "sku": ["S1", "S2", "S3", "S4"],
        "location_code": ["W1", "W1", "W1", "W1"],
        "segment_code": ["gold", "silver", "bronze", "gold"],
        "policy_type": ["s_q", "r_s", "s_q", "s_q"],
        "safety_stock": [48.0, 100.0, 10.0, 5.0],
        "reorder_point": [126.0, 300.0, 30.0, 20.0],
        "order_up_to": [None, 400.0, None, None],
        "lead_time_mean": [3.0, 7.0, 4.2, 3.0],
    }
    rows.update(over)
    return pl.DataFrame(rows)


def erp(**over: list[object]) -> pl.DataFrame:
    rows: dict[str, list[object]] = {
        "sku": ["S1", "S2", "S3", "S5"],
        "location_code": ["W1", "W1", "W1", "W1"],
        "mrp_type": ["VB", "PD", "VB", "VB"],
        "reorder_point": [126.0, 250.0, 30.0, 9.0],
        "safety_stock": [48.0, 80.0, 10.5, 3.0],
        "planned_delivery_days": [3.0, 7.0, 3.0, 2.0],
        "goods_receipt_days": [0.0, 0.0, 0.0, 0.0],
        "days_basis": ["calendar", "calendar", "working", "calendar"],
        "min_lot": [0.0, 0.0, 0.0, 0.0],
        "lot_rounding": [0.0, 0.0, 0.0, 0.0],
        "max_stock": [0.0, 0.0, 0.0, 0.0],
        "uom": ["CS", "EA", "EA", "EA"],
    }
    rows.update(over)
    return pl.DataFrame(rows)


LANES = pl.DataFrame({"location_code": ["W1"], "calendar": ["calendar"]})
UNITS = pl.DataFrame(
    {
        "sku": ["S1", "S1", "S2", "S3", "S4", "S5"],
        "base_uom": ["EA"] * 6,
        "uom": ["EA", "CS", "EA", "EA", "EA", "EA"],
        "factor": [1.0, 12.0, 1.0, 1.0, 1.0, 1.0],
    }
)
COSTS = pl.DataFrame({"sku": ["S1", "S2", "S3", "S4", "S5"], "unit_cost": [2.0, 5.0, 1.0, 1, 1]})


def rows_by_sku(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {r["sku"]: r for r in frame.iter_rows(named=True)}


def test_each_mismatch_is_flagged_with_its_reason() -> None:
    out = rows_by_sku(reconcile(recommended(), erp(), LANES, UNITS, COSTS))
    # S1: the ERP keeps cases; after conversion the numbers agree: nothing to change.
    assert mismatch_names(out["S1"]["flags"]) == ["unit"]
    assert out["S1"]["changed"] is False and out["S1"]["factor"] == 12.0
    # S2: periodic review recommended, the ERP runs MRP (PD): propose R1 and new numbers.
    assert mismatch_names(out["S2"]["flags"]) == ["mrp_type"]
    assert out["S2"]["proposed_mrp_type"] == "R1" and out["S2"]["changed"] is True
    assert out["S2"]["value_delta"] == 100.0  # 20 units more safety stock at 5.00
    # S3: the ERP counts 3 working days (4.2 calendar days) where the lane counts calendar
    # days; 10.5 against 10 is within tolerance: flagged, no change.
    assert mismatch_names(out["S3"]["flags"]) == ["calendar"]
    assert abs(out["S3"]["erp_lead_time_days"] - 4.2) < 1e-9 and out["S3"]["changed"] is False
    assert mismatch_names(out["S4"]["flags"]) == ["not_in_erp"]
    assert mismatch_names(out["S5"]["flags"]) == ["no_recommendation"]
    assert out["S4"]["changed"] is False and out["S5"]["changed"] is False
    counts = summary(reconcile(recommended(), erp(), LANES, UNITS, COSTS))
    assert counts["rows"] == 5 and counts["changes"] == 1 and counts["mrp_type"] == 1


def test_rows_sort_by_money_at_stake_biggest_first_unknown_last() -> None:
    out = reconcile(recommended(), erp(), LANES, UNITS, COSTS)
    stakes = out["value_delta"].to_list()
    known = [abs(v) for v in stakes if v is not None]
    assert known == sorted(known, reverse=True) and out["sku"][0] == "S2"
    without = reconcile(recommended(), erp(), LANES, UNITS)  # no costs (or masked)
    assert without["value_delta"].null_count() == without.height


def test_a_unit_without_conversion_is_not_compared_and_never_changed() -> None:
    out = rows_by_sku(reconcile(recommended(), erp(uom=["PAL", "EA", "EA", "EA"]), LANES, UNITS))
    assert Mismatch.NO_CONVERSION & out["S1"]["flags"]
    assert out["S1"]["proposed_reorder_point"] is None and out["S1"]["changed"] is False


def test_a_long_lead_time_in_the_erp_is_flagged() -> None:
    late = erp(planned_delivery_days=[3.0, 7.0, 3.0, 2.0], goods_receipt_days=[9.0, 0, 0, 0])
    out = rows_by_sku(reconcile(recommended(), late, LANES, UNITS))
    assert Mismatch.LEAD_TIME & out["S1"]["flags"]


def test_proposed_values_are_in_the_erps_unit_whole_packs_rounded_up() -> None:
    rec = recommended(reorder_point=[150.0, 300.0, 30.0, 20.0], safety_stock=[50.0, 1, 1, 1])
    out = rows_by_sku(reconcile(rec, erp(), LANES, UNITS))
    # 150 EA are 12.5 cases: 13 cases (never fewer units than recommended)
    assert out["S1"]["proposed_reorder_point"] == 13.0 and out["S1"]["changed"] is True
    assert out["S1"]["proposed_safety_stock"] == 5.0
    # 130 against 126 is within the tolerance (5 %): no change proposed
    near = rows_by_sku(
        reconcile(recommended(reorder_point=[130.0, 300, 30, 20]), erp(), LANES, UNITS)
    )
    assert near["S1"]["changed"] is False


@given(
    st.floats(0, 1e6),
    st.floats(0, 1e6),
    st.sampled_from([1.0, 6.0, 12.0, 24.0]),
)
def test_a_proposal_never_holds_fewer_base_units_than_recommended(
    rop: float, ss: float, factor: float
) -> None:
    units = pl.DataFrame(
        {
            "sku": ["S1", "S1"],
            "base_uom": ["EA", "EA"],
            "uom": ["EA", "CS"],
            "factor": [1.0, factor],
        }
    )
    rec = recommended(
        sku=["S1"] * 1,
        location_code=["W1"],
        segment_code=["g"],
        policy_type=["s_q"],
        safety_stock=[ss],
        reorder_point=[rop],
        order_up_to=[None],
        lead_time_mean=[3.0],
    )
    current = erp(sku=["S1"], location_code=["W1"], mrp_type=["VB"], reorder_point=[0.0],
                  safety_stock=[0.0], planned_delivery_days=[3.0], goods_receipt_days=[0.0],
                  days_basis=["calendar"], min_lot=[0.0], lot_rounding=[0.0], max_stock=[0.0],
                  uom=["EA" if factor == 1.0 else "CS"])  # fmt: skip
    row = reconcile(rec, current, LANES, units).row(0, named=True)
    assert row["proposed_reorder_point"] * factor >= rop - 1e-9
    assert row["proposed_safety_stock"] * factor >= ss - 1e-9
    assert row["proposed_reorder_point"] * factor - rop < factor + 1e-3 * factor


def test_writeback_file_in_the_sap_layout_with_decimal_commas() -> None:
    rec = recommended(reorder_point=[150.0, 300.5, 30.0, 20.0])
    current = erp(min_lot=[24.0, 0, 0, 0], max_stock=[600.0, 0, 0, 0])
    changes = reconcile(rec, current, LANES, UNITS).filter(pl.col("changed"))
    rows = writeback_rows(changes, current)
    body = writeback_file(rows, presets()["sap_mrp_parameters"]).decode("utf-8")
    lines = body.splitlines()
    assert lines[0] == "MATNR;WERKS;DISMM;MINBE;EISBE;PLIFZ;WEBAZ;BSTMI;BSTRF;MABST;MEINS;DAY_UNIT"
    # whole records: lot sizes back in cases, units and day units in SAP's own codes
    assert "S1;W1;VB;13;4;3;0;2;0;50;KAR;KT" in lines
    assert "S2;W1;R1;300,5;100;7;0;0;0;0;ST;KT" in lines
    generic = writeback_file(rows, presets()["generic_erp_parameters"]).decode("utf-8")
    assert generic.splitlines()[0].startswith("sku,location_code,mrp_type,reorder_point,")
    assert "S1,W1,VB,13,4,3,0,2,0,50,CS,calendar" in generic.splitlines()


def test_writeback_needs_an_erp_parameters_profile() -> None:
    import pytest

    with pytest.raises(WritebackRefused, match="erp_parameters"):
        writeback_file(reconcile(recommended(), erp(), LANES, UNITS), presets()["generic_products"])
