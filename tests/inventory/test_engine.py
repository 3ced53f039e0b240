"""From statistics and a policy document to results; the calculator on the same path."""

from __future__ import annotations

import polars as pl
import pytest

from tierline.inventory.calculator import CalculatorInput, calculate
from tierline.inventory.document import (
    OrderQuantity,
    PolicyDocument,
    PolicyInvalid,
    SegmentPolicy,
    content_hash,
    parse_document,
)
from tierline.inventory.engine import RESULT_COLUMNS, assign_segments, compute_results

KEY = ["sku", "location_code"]


def statistics(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {
        "base_uom": "EA",
        "periods": 365,
        "zero_periods": 0,
        "demand_sd": 3.0,
        "demand_class": "smooth",
        "lead_time_source": "observed",
        "lead_time_observations": 10,
        "lead_time_mean": 5.0,
        "lead_time_sd": 1.0,
        "flags": 0,
    }
    return pl.DataFrame([{**base, **r} for r in rows]).with_columns(
        pl.col("periods", "zero_periods", "lead_time_observations").cast(pl.Int32)
    )


DOC = PolicyDocument(
    scheme="PROD",
    segments=[
        SegmentPolicy(
            segment="A",
            service_measure="fill_rate",
            order_quantity=OrderQuantity(rule="days_of_demand", days=7),
        ),
        SegmentPolicy(
            segment="C",
            policy_type="r_s",
            review_period_days=7,
            floor_days=2,
        ),
    ],
    default=SegmentPolicy(
        segment="*", target=0.9, order_quantity=OrderQuantity(rule="units", units=50)
    ),
)
TARGETS = {
    "A": {"fill_rate": 0.98, "cycle_service_level": 0.95},
    "C": {"fill_rate": 0.9, "cycle_service_level": 0.85},
}


def test_each_segment_gets_its_policy_and_entitlement() -> None:
    stats = statistics(
        [
            {"sku": "S1", "location_code": "DC", "demand_mean": 10.0},
            {"sku": "S2", "location_code": "DC", "demand_mean": 10.0},
            {"sku": "S3", "location_code": "DC", "demand_mean": 10.0},
        ]
    )
    products = pl.DataFrame({"sku": ["S1", "S2"], "segment": ["A", "C"]})
    segments = assign_segments(stats.select(KEY), DOC, products, pl.DataFrame(), {})
    out = compute_results(stats, segments, DOC, TARGETS)
    assert list(out.columns) == list(RESULT_COLUMNS)
    a, c, other = out.rows(named=True)
    assert (a["segment_code"], a["policy_type"], a["service_measure"]) == ("A", "s_q", "fill_rate")
    assert a["service_target"] == 0.98 and a["order_quantity"] == pytest.approx(70)
    assert a["expected_fill_rate"] == pytest.approx(0.98, abs=1e-9)
    assert (c["policy_type"], c["service_target"], c["review_period"]) == ("r_s", 0.85, 7)
    assert c["order_up_to"] == pytest.approx(10 * 12 + c["safety_stock"])
    assert other["segment_code"] is None and other["service_target"] == 0.9
    assert other["order_quantity"] == 50


def test_highest_customer_segment_with_material_share_and_demand_weighted() -> None:
    stats = statistics([{"sku": "S1", "location_code": "DC", "demand_mean": 10.0}])
    demand = pl.DataFrame(
        {
            "sku": ["S1"] * 3,
            "location_code": ["DC"] * 3,
            "segment": ["A", "C", "A"],
            "quantity": [5.0, 85.0, 10.0],
        }
    )
    rank = {"A": 0, "C": 1}
    highest = PolicyDocument(
        **{**_fields(DOC), "target_rule": "highest_customer_segment", "material_share": 0.1}
    )
    seg = assign_segments(stats.select(KEY), highest, pl.DataFrame(), demand, rank)
    assert seg["segment_code"].to_list() == ["A"]  # A's 15 % is material at 10 %
    weighted = PolicyDocument(**{**_fields(DOC), "target_rule": "demand_weighted"})
    seg_w = assign_segments(stats.select(KEY), weighted, pl.DataFrame(), demand, rank)
    assert seg_w["segment_code"].to_list() == ["C"]  # the dominant segment sets the policy
    out = compute_results(stats, seg_w, weighted, TARGETS).row(0, named=True)
    assert out["service_target"] == pytest.approx(0.15 * 0.95 + 0.85 * 0.85)


def _fields(doc: PolicyDocument) -> dict[str, object]:
    return {f: getattr(doc, f) for f in doc.__struct_fields__}


def test_material_share_decides_the_highest_segment() -> None:
    stats = statistics([{"sku": "S1", "location_code": "DC", "demand_mean": 10.0}])
    demand = pl.DataFrame(
        {"sku": ["S1"] * 2, "location_code": ["DC"] * 2, "segment": ["A", "C"],
         "quantity": [10.0, 90.0]}
    )  # fmt: skip
    doc = PolicyDocument(**{**_fields(DOC), "target_rule": "highest_customer_segment"})
    seg = assign_segments(stats.select(KEY), doc, pl.DataFrame(), demand, {"A": 0, "C": 1})
    assert seg["segment_code"].to_list() == ["C"]  # A's 10 % is not material (20 %)


def test_documents_are_validated_with_paths_and_hashed_canonically() -> None:
    good = {"scheme": "PROD", "segments": [{"segment": "A", "order_quantity": {"days": 7}}]}
    doc = parse_document(good)
    assert content_hash(doc) == content_hash(parse_document(dict(reversed(good.items()))))
    with pytest.raises(PolicyInvalid) as bad:
        parse_document(
            {
                "scheme": "PROD",
                "segments": [
                    {"segment": "A", "target": 1.0, "order_quantity": {"days": 7}},
                    {"segment": "B", "policy_type": "r_s"},
                    {
                        "segment": "C",
                        "floor_units": 10,
                        "cap_units": 5,
                        "order_quantity": {"rule": "eoq"},
                    },
                ],
            }
        )
    paths = [i.path for i in bad.value.issues]
    assert paths == [
        "segments[0].target",
        "segments[1].review_period_days",
        "segments[2].order_quantity.order_cost",
        "segments[2].order_quantity.holding_cost_per_unit_year",
        "segments[2].floor_units",
    ]
    with pytest.raises(PolicyInvalid) as unknown:
        parse_document({"scheme": "PROD", "segments": [], "colour": "red"})
    assert unknown.value.issues[0].path == "document"


def test_calculator_matches_the_textbook_and_explains_caps() -> None:
    r = calculate(
        CalculatorInput(
            demand_mean=2500,
            demand_sd=500,
            lead_time_mean=2,
            order_quantity=10000,
            service_measure="fill_rate",
            target=0.975,
        )
    )
    assert round(r.safety_stock or 0) == 67 and r.flags == []
    capped = calculate(CalculatorInput(demand_mean=10, demand_sd=5, lead_time_mean=3,
                                       order_quantity=20, target=1.0))  # fmt: skip
    assert capped.k == 4.0 and capped.flags == ["target_100_capped"]
    assert "100 %" in capped.reasons[0]
    refused = calculate(CalculatorInput(demand_mean=-1, demand_sd=5, lead_time_mean=3,
                                        order_quantity=20))  # fmt: skip
    assert refused.safety_stock is None and refused.flags == ["negative_demand"]
