"""Inventory distortion: statuses decided exactly, money in integer minor units, the network
expense finding, and root causes between two runs."""

from __future__ import annotations

import polars as pl
import pytest

from tierline.inventory.distortion import (
    DistortionSettings,
    GapStatus,
    RootCauseThresholds,
    assess_distortion,
    explain_distortion,
    root_causes,
)


def positions(*rows: dict[str, object]) -> pl.DataFrame:
    base = {
        "sku": "P",
        "location": "DC1",
        "segment": "GOLD",
        "tier": 1,
        "on_hand": 0.0,
        "safety_stock": 10.0,
        "reorder_point": 20.0,
        "max_level": 50.0,
    }
    return pl.DataFrame([{**base, "sku": f"P{i}", **row} for i, row in enumerate(rows)])


def test_statuses_are_decided_within_a_documented_tolerance() -> None:
    frame = positions(
        {"on_hand": 0.0},  # stock-out
        {"on_hand": 1e-9},  # float noise above zero: still a stock-out
        {"on_hand": 9.5},  # below safety stock
        {"on_hand": 10.0 - 1e-9},  # at safety stock up to noise
        {"on_hand": 0.1 + 0.2 + 9.7},  # 10.000000000000002: within
        {"on_hand": 50.0 + 1e-9},  # at max up to noise
        {"on_hand": 50.001},  # above max
        {"on_hand": -3.0},  # negative book stock: a stock-out
    )
    report = assess_distortion(frame)
    assert report.rows["status"].to_list() == [
        GapStatus.STOCKOUT,
        GapStatus.STOCKOUT,
        GapStatus.BELOW_SAFETY_STOCK,
        GapStatus.WITHIN_TARGET,
        GapStatus.WITHIN_TARGET,
        GapStatus.WITHIN_TARGET,
        GapStatus.ABOVE_MAX,
        GapStatus.STOCKOUT,
    ]
    assert report.rows["shortfall_units"].to_list()[:3] == pytest.approx([10.0, 10.0, 0.5])
    assert report.rows["excess_units"][6] == pytest.approx(0.001)
    assert report.rows["shortfall_units"][7] == 13.0


def test_the_position_measure_counts_what_is_on_order_and_owed() -> None:
    frame = positions({"on_hand": 5.0, "on_order": 30.0, "backorders": 2.0})
    assert assess_distortion(frame).rows["status"][0] == GapStatus.BELOW_SAFETY_STOCK
    by_position = assess_distortion(frame, DistortionSettings(measure="position"))
    assert by_position.rows["measure"][0] == 33.0
    assert by_position.rows["status"][0] == GapStatus.WITHIN_TARGET


def test_values_are_integer_minor_units_rounded_half_to_even() -> None:
    frame = positions(
        {"on_hand": 52.5, "unit_value_minor": 1},  # 2.5 units above max -> 2.5 -> 2 minor units
        {"on_hand": 53.5, "unit_value_minor": 1},  # 3.5 -> 4
        {"on_hand": 50.1, "unit_value_minor": 3},  # 0.1 * 3 = 0.30000000000000004 -> 0
        {"on_hand": 4.0, "unit_value_minor": 1999},  # 6 short * 19.99 = 11994 minor units
        {"on_hand": 60.0},  # no unit value: no value, never a guess
    )
    report = assess_distortion(frame)
    assert report.rows["excess_value_minor"].to_list() == [2, 4, 0, 0, None]
    assert report.rows["shortfall_value_minor"][3] == 11994
    assert report.rows["excess_value_minor"].dtype == pl.Int64
    summary = report.by_location_segment.row(0, named=True)
    assert summary["excess_value_minor"] == 6  # an exact integer sum
    assert summary["value_incomplete"] is True
    assert summary["above_max"] == 4 and summary["below_safety_stock"] == 1


def test_network_expense_high_tier_above_max_while_low_tier_below_target() -> None:
    frame = positions(
        {"location": "DC1", "segment": "GOLD", "tier": 1, "on_hand": 80.0, "unit_value_minor": 100},
        {"location": "DC1", "segment": "SILVER", "tier": 2, "on_hand": 3.0, "unit_value_minor": 50},
        {"location": "DC1", "segment": "BRONZE", "tier": 3, "on_hand": 0.0, "unit_value_minor": 10},
        # DC2: only the low tier holds too much, the high one too little: not this finding
        {"location": "DC2", "segment": "GOLD", "tier": 1, "on_hand": 2.0},
        {"location": "DC2", "segment": "BRONZE", "tier": 3, "on_hand": 90.0},
    )
    finding = assess_distortion(frame).network_expense
    assert finding["location"].to_list() == ["DC1"]
    row = finding.row(0, named=True)
    assert row["high_tier_segments_above_max"] == ["GOLD"]
    assert row["low_tier_segments_below_target"] == ["BRONZE", "SILVER"]
    assert row["excess_units"] == 30.0 and row["excess_value_minor"] == 3000
    assert row["shortfall_units"] == 17.0 and row["shortfall_value_minor"] == 7 * 50 + 10 * 10
    assert "GOLD hold stock above their maximum" in row["finding"]


def test_rows_without_data_are_flagged_not_guessed() -> None:
    frame = positions(
        {"on_hand": None},
        {"safety_stock": None},
        {"max_level": 5.0},  # below the safety stock
        {"unit_value_minor": -4, "on_hand": 20.0},
        {"on_hand": float("nan")},
    )
    report = assess_distortion(frame)
    assert set(report.rows["status"]) == {GapStatus.MISSING_DATA}
    assert report.rows["below_reorder_point"].null_count() == 5
    flags = {(r["row"], r["code"]) for r in report.flags.iter_rows(named=True)}
    assert flags == {
        (0, "position_missing"),
        (1, "target_missing"),
        (2, "target_inconsistent"),
        (3, "unit_value_invalid"),
        (4, "position_missing"),
    }
    with pytest.raises(ValueError, match="lack columns: max_level"):
        assess_distortion(frame.drop("max_level"))


def run_inputs(**changes: dict[str, object]) -> pl.DataFrame:
    base = {
        "location": "DC1",
        "demand_mean_per_day": 10.0,
        "demand_sd_per_day": 4.0,
        "lead_time_mean_days": 10.0,
        "policy_type": "sq",
        "service_target": 0.95,
        "order_quantity": 100.0,
        "review_period_days": 0.0,
    }
    return pl.DataFrame([{**base, "sku": sku, **values} for sku, values in changes.items()])


def test_root_causes_with_their_thresholds() -> None:
    before = run_inputs(
        SAME={}, DEMAND={}, NOISE={}, SD={}, LEAD={}, LEAD_SMALL={}, POLICY={}, GONE={},
        ZERO={"demand_mean_per_day": 0.0},
    )  # fmt: skip
    after = run_inputs(
        SAME={},
        DEMAND={"demand_mean_per_day": 12.5},  # +25 % > 20 %
        NOISE={"demand_mean_per_day": 11.9},  # +19 %: below the threshold
        SD={"demand_sd_per_day": 5.5},  # +37.5 % > 25 %
        LEAD={"lead_time_mean_days": 13.0},  # +30 % and 3 days
        LEAD_SMALL={"lead_time_mean_days": 10.9},  # < 1 day: not a cause
        POLICY={"service_target": 0.98, "order_quantity": 80.0},
        GONE={"demand_mean_per_day": None},
        ZERO={"demand_mean_per_day": 0.5},  # from nothing to something
        FRESH={},
    )
    causes = {r["sku"]: r for r in root_causes(before, after).iter_rows(named=True)}
    assert causes["SAME"]["causes"] == []
    assert causes["DEMAND"]["causes"] == ["demand_change"]
    assert causes["NOISE"]["causes"] == []
    assert causes["SD"]["causes"] == ["demand_change"]
    assert causes["LEAD"]["causes"] == ["lead_time_change"]
    assert causes["LEAD_SMALL"]["causes"] == []
    assert causes["POLICY"]["causes"] == ["policy_change"]
    assert causes["POLICY"]["policy_fields_changed"] == ["service_target", "order_quantity"]
    assert causes["GONE"]["causes"] == ["missing_data"]
    assert causes["ZERO"]["causes"] == ["demand_change"]
    assert causes["FRESH"]["causes"] == ["new"]
    assert causes["DEMAND"]["demand_mean_per_day_before"] == 10.0
    stricter = root_causes(before, after, RootCauseThresholds(demand_change=0.1))
    assert stricter.filter(sku="NOISE")["causes"].item().to_list() == ["demand_change"]


def test_distorted_rows_are_explained_by_their_causes() -> None:
    report = assess_distortion(
        positions({"on_hand": 80.0}, {"on_hand": 20.0}, {"on_hand": 2.0}, {"safety_stock": None})
    )
    before = run_inputs(P0={}, P2={}, P3={})
    after = run_inputs(P0={"demand_mean_per_day": 5.0}, P2={}, P3={})
    explained = explain_distortion(report.rows, root_causes(before, after))
    table = {r["sku"]: (r["status"], r["causes"]) for r in explained.iter_rows(named=True)}
    assert table == {
        "P0": (GapStatus.ABOVE_MAX, ["demand_change"]),
        "P2": (GapStatus.BELOW_SAFETY_STOCK, []),
        "P3": (GapStatus.MISSING_DATA, ["missing_data"]),
    }
