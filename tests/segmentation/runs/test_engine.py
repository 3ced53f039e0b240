"""Classification: tree first-match, nesting, goto, exceptions, defaults, boundary distance."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from tierline.segmentation.runs.engine import ENGINE_VERSION, OUTPUT_COLUMNS, classify
from tierline.segmentation.schemes.document import Scheme, load_template, parse_scheme


def template(name: str) -> Scheme:
    return parse_scheme(load_template(name)).scheme


def rows(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["entity_key"]: row for row in frame.iter_rows(named=True)}


def customers(**columns: list[Any]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, Any] = {
        "entity_key": [f"c{i}" for i in range(n)],
        "revenue": [0.0] * n,
        "cv": [0.1] * n,
        "margin_pct": [0.1] * n,
        "max_period_share": [0.0] * n,
    }
    return pl.DataFrame({**base, **columns})


def test_output_shape_and_version() -> None:
    result = classify(template("lightweight"), customers(revenue=[5.0, 1.0]))
    assert tuple(result.columns) == OUTPUT_COLUMNS
    assert ENGINE_VERSION == "1.1.0"
    assert result["xyz"].to_list() == [None, None]


def test_customer_service_tree_first_match_nested_and_goto() -> None:
    # share before each: c0 0, c1 .50, c2 .75 (A: under .80), c3 .85, c4 .90 (B), c5 .95 (C)
    features = customers(
        revenue=[50.0, 25.0, 10.0, 5.0, 5.0, 5.0],
        margin_pct=[0.30, 0.10, 0.2, 0.2, 0.2, 0.2],
        cv=[0.2, 0.2, 0.2, 0.2, 0.7, 3.0],
        strategic=[False, False, True, False, False, False],
        region=["APAC", "APAC", "APAC", "EMEA", None, "EMEA"],
        channel=["DIRECT", "DIRECT", "DIRECT", "DIRECT", "KEY_ACCOUNT", "DIRECT"],
    )
    result = rows(classify(template("customer_service"), features))
    got = {k: (r["abc"], r["segment"], r["rule"]) for k, r in result.items()}
    assert got == {
        "c0": ("A", "PLAT", "tree[1].then[0]"),  # A, margin >= 25%
        "c1": ("A", "GOLD", "tree[1].then[1]"),  # A, low margin
        "c2": ("A", "PLAT", "tree[0]"),  # strategic A: first rule wins
        "c3": ("B", "GOLD", "subtrees.mid_market[0]"),  # B in EMEA via goto
        "c4": ("B", "SILV", "subtrees.mid_market[1]"),  # B, region defaulted
        "c5": ("C", "BRNZ", "tree[4]"),  # C with erratic demand
    }
    assert result["c4"]["defaults_used"] == ["region"]
    assert result["c0"]["defaults_used"] == []
    assert {r["source"] for r in result.values()} == {"rule"}
    assert result["c5"]["xyz"] == "Z" and result["c4"]["xyz"] == "Y"


def test_missing_attribute_columns_are_null_and_defaults_recorded() -> None:
    features = customers(revenue=[80.0, 0.0, 20.0], margin_pct=[None, None, None])
    result = rows(classify(template("customer_service"), features))
    # no strategic / region / channel columns at all: tests on them are false
    assert result["c0"]["segment"] == "GOLD" and result["c0"]["rule"] == "tree[1].then[1]"
    assert result["c0"]["defaults_used"] == ["margin_pct", "channel", "region"]
    assert result["c1"]["abc"] == "C" and result["c1"]["cum_share"] == 1.0


def test_exceptions_come_before_the_tree() -> None:
    scheme = template("product_abc_xyz")
    features = pl.DataFrame(
        {
            "entity_key": ["p0", "p1", "p2", "p3", "p4", "p5"],
            "volume": [100.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "cv": [0.1, 0.1, 0.1, 0.1, 0.1, 2.0],
            "max_period_share": [0.1] * 6,
            "lifecycle": ["phase_out", "npi", "npi", None, "promotional", "active"],
            "product_line": ["X", "Coatings", "Paints", None, None, None],
        }
    )
    result = rows(classify(scheme, features))
    got = {k: (r["segment"], r["source"], r["rule"]) for k, r in result.items()}
    assert got["p0"] == ("EXIT", "exception", "exceptions[0]")
    assert got["p1"] == ("MTS", "exception", "exceptions[3]")
    assert got["p2"] == ("NPI", "exception", "exceptions[3]")
    assert got["p3"][1] == "rule" and result["p3"]["defaults_used"] == ["lifecycle"]
    assert got["p4"] == ("MTO", "exception", "exceptions[1]")
    assert got["p5"] == ("MTO", "rule", "tree[2]")  # C, erratic


def test_map_without_otherwise_falls_through_to_the_tree() -> None:
    text = load_template("product_abc_xyz").replace("    otherwise: NPI", "")
    scheme = parse_scheme(text).scheme
    features = pl.DataFrame(
        {
            "entity_key": ["p0"],
            "volume": [1.0],
            "cv": [0.1],
            "max_period_share": [1.0],
            "lifecycle": ["npi"],
            "product_line": ["Paints"],
        }
    )
    row = rows(classify(scheme, features))["p0"]
    assert (row["source"], row["rule"], row["abc"]) == ("rule", "tree[0].then[0]", "A")


def test_customer_product_prefixed_attributes() -> None:
    features = pl.DataFrame(
        {
            "entity_key": ["a|1", "a|2", "b|1"],
            "customer_code": ["a", "a", "b"],
            "sku": ["1", "2", "1"],
            "revenue": [10.0, 10.0, 80.0],
            "cv": [None, None, None],
            "max_period_share": [0.0] * 3,
            "customer.strategic": [None, True, None],
            "product.lifecycle": ["promotional", "active", None],
        }
    )
    result = rows(classify(template("customer_product"), features))
    assert result["a|1"]["segment"] == "FILL" and result["a|1"]["source"] == "exception"
    assert result["a|2"]["segment"] == "PROTECT"
    assert result["b|1"]["segment"] == "PROTECT" and result["b|1"]["abc"] == "A"
    assert result["b|1"]["defaults_used"] == ["customer.strategic"]


def test_abc_ties_break_by_entity_key_and_boundary_distance() -> None:
    features = customers(revenue=[20.0, 20.0, 60.0], cv=[0.45, 1.5, None])
    result = rows(classify(template("customer_service"), features))
    assert result["c2"]["cum_share"] == pytest.approx(0.6)
    assert result["c0"]["cum_share"] == pytest.approx(0.8)  # tie: c0 before c1
    assert result["c1"]["cum_share"] == pytest.approx(1.0)
    assert [result[k]["abc"] for k in ("c0", "c1", "c2")] == ["A", "B", "A"]
    # c2: ABC 0.2 from A; no demand -> only ABC counts
    assert result["c2"]["boundary_distance"] == pytest.approx(0.2)
    # c0: on the A threshold (0.0)
    assert result["c0"]["boundary_distance"] == pytest.approx(0.0, abs=1e-12)
    # c1: ABC 0.05 from B; XYZ |1.5 - 1.0| / 1.0 = 0.5 -> 0.05
    assert result["c1"]["boundary_distance"] == pytest.approx(0.05)
    near_x = rows(
        classify(
            template("customer_service"),
            customers(revenue=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], cv=[0.49] * 10),
        )
    )
    # c0 cum 0.1: ABC 0.7 away; XYZ |0.49 - 0.5| / 0.5 = 0.02
    assert near_x["c0"]["boundary_distance"] == pytest.approx(0.02)


def test_negative_driver_counts_as_zero() -> None:
    scheme = parse_scheme(
        load_template("lightweight").replace("driver: revenue", "driver: margin")
    ).scheme
    features = pl.DataFrame(
        {
            "entity_key": ["a", "b", "c"],
            "margin": [-5.0, 10.0, 90.0],
            "cv": [None] * 3,
            "max_period_share": [0.0] * 3,
        }
    )
    result = rows(classify(scheme, features))
    assert result["a"]["segment"] == "C" and result["a"]["cum_share"] == 1.0
    assert result["c"]["cum_share"] == pytest.approx(0.9)  # of 100, the loss is not netted
    assert result["c"]["segment"] == "A" and result["b"]["segment"] == "B"
