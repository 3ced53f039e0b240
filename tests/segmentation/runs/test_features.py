"""Features from order history, checked against small hand-computed examples."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from tierline.segmentation.runs.features import (
    bucket_bounds,
    compute_features,
    months_before,
    required_order_columns,
)
from tierline.segmentation.schemes.document import Scheme, parse_scheme

AS_OF = date(2025, 3, 31)


def scheme(
    bucket: str = "month",
    months: int = 3,
    driver: str = "revenue",
    entity: str = "customer",
    tree: str = "  - segment: S\n",
) -> Scheme:
    text = (
        f"code: feat\nname: F\nentity: {entity}\nwindow: {{months: {months}}}\n"
        f"variability: {{bucket: {bucket}}}\nsegments: [{{code: S, name: S, rank: 1}}]\n"
        f"classifiers: {{abc: {{driver: {driver}}}}}\ntree:\n{tree}"
    )
    return parse_scheme(text).scheme


def orders(
    rows: list[tuple[str, str, str, date, float, float | None, float | None]],
) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_code": pl.String,
            "sku": pl.String,
            "order_no": pl.String,
            "order_date": pl.Date,
            "quantity": pl.Float64,
            "revenue": pl.Float64,
            "margin": pl.Float64,
        },
        orient="row",
    )


def by_key(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["entity_key"]: row for row in frame.iter_rows(named=True)}


def test_month_arithmetic_clamps_to_month_end() -> None:
    assert months_before(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2025, 1, 15), 13) == date(2023, 12, 15)


def test_bucket_bounds() -> None:
    assert bucket_bounds(scheme("month", 3), AS_OF) == [
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
    ]
    # 31 days back: four 7-day weeks ending on as_of; the 3 spare days join the oldest week
    assert bucket_bounds(scheme("week", 1), AS_OF) == [
        date(2025, 2, 28),
        date(2025, 3, 10),
        date(2025, 3, 17),
        date(2025, 3, 24),
        AS_OF,
    ]


def test_window_edges_sums_distinct_orders_and_margin_pct() -> None:
    frame = compute_features(
        scheme(),
        orders(
            [
                (
                    "c1",
                    "p1",
                    "o1",
                    date(2024, 12, 31),
                    100.0,
                    1000.0,
                    100.0,
                ),  # on the open edge: out
                ("c1", "p1", "o2", date(2025, 1, 1), 10.0, 100.0, 20.0),  # first day: in
                ("c1", "p2", "o2", date(2025, 1, 1), 5.0, 50.0, None),  # same order, 2nd line
                ("c1", "p1", "o3", AS_OF, 5.0, None, 10.0),  # as-of day: in
                ("c1", "p1", "o4", date(2025, 4, 1), 7.0, 70.0, 7.0),  # after as-of: out
                ("zz", "p1", "o5", date(2025, 2, 1), 1.0, 1.0, 1.0),  # not an entity
            ]
        ),
        pl.DataFrame({"entity_key": ["c1", "c2"], "region": ["EMEA", None]}),
        AS_OF,
    )
    assert frame.columns[:9] == [
        "entity_key",
        "volume",
        "revenue",
        "margin",
        "margin_pct",
        "order_count",
        "order_lines",
        "cv",
        "max_period_share",
    ]
    rows = by_key(frame)
    c1, c2 = rows["c1"], rows["c2"]
    assert (c1["volume"], c1["revenue"], c1["margin"]) == (20.0, 150.0, 30.0)
    assert c1["margin_pct"] == pytest.approx(0.2)
    assert (c1["order_count"], c1["order_lines"], c1["region"]) == (2, 3, "EMEA")
    # monthly demand 15, 0, 5: mean 20/3, population std over all three buckets
    mean = 20 / 3
    std = math.sqrt(((15 - mean) ** 2 + mean**2 + (5 - mean) ** 2) / 3)
    assert c1["cv"] == pytest.approx(std / mean)
    assert c1["max_period_share"] == pytest.approx(1.0)  # all known revenue fell in January
    assert c2 == {
        "entity_key": "c2",
        "volume": 0.0,
        "revenue": 0.0,
        "margin": 0.0,
        "margin_pct": None,
        "order_count": 0,
        "order_lines": 0,
        "cv": None,
        "max_period_share": 0.0,
        "region": None,
    }
    assert frame.height == 2


def test_weekly_cv_counts_empty_weeks_as_zero() -> None:
    frame = compute_features(
        scheme("week", 1, driver="volume"),
        orders(
            [
                ("c1", "p", "o1", date(2025, 3, 31), 4.0, None, None),
                ("c1", "p", "o2", date(2025, 3, 3), 4.0, None, None),
            ]
        ),  # oldest (long) week
        pl.DataFrame({"entity_key": ["c1"]}),
        AS_OF,
    )
    row = by_key(frame)["c1"]
    # 4 weekly buckets: 4, 0, 0, 4 -> mean 2, std 2, cv 1
    assert row["cv"] == pytest.approx(1.0)
    assert row["max_period_share"] == pytest.approx(0.5)
    assert row["revenue"] is None and row["margin_pct"] is None  # unknown, not zero


def test_constant_demand_has_zero_cv() -> None:
    rows = [("c1", "p", f"o{m}", date(2025, m, 15), 3.0, 1.0, 0.5) for m in (1, 2, 3)]
    frame = compute_features(scheme(), orders(rows), pl.DataFrame({"entity_key": ["c1"]}), AS_OF)
    assert by_key(frame)["c1"]["cv"] == pytest.approx(0.0)
    assert by_key(frame)["c1"]["max_period_share"] == pytest.approx(1 / 3)


def test_customer_product_pairs() -> None:
    frame = compute_features(
        scheme(entity="customer_product"),
        orders(
            [
                ("c1", "p1", "o1", date(2025, 2, 1), 2.0, 20.0, 5.0),
                ("c1", "p2", "o1", date(2025, 2, 1), 3.0, 30.0, 5.0),
                ("c2", "p1", "o2", date(2025, 2, 2), 4.0, 40.0, 5.0),
            ]
        ),
        pl.DataFrame(
            {
                "customer_code": ["c1", "c2", "c3"],
                "sku": ["p1", "p1", "p1"],
                "customer.strategic": [True, False, None],
            }
        ),
        AS_OF,
    )
    assert frame.columns[:3] == ["entity_key", "customer_code", "sku"]
    rows = by_key(frame)
    assert rows["c1|p1"]["volume"] == 2.0 and rows["c2|p1"]["revenue"] == 40.0
    assert rows["c3|p1"]["order_lines"] == 0 and rows["c1|p1"]["customer.strategic"] is True
    assert "c1|p2" not in rows


def test_product_entity_uses_sku_and_missing_money_columns() -> None:
    plain = orders([("c1", "p1", "o1", date(2025, 2, 1), 2.0, 20.0, 5.0)]).drop("revenue", "margin")
    frame = compute_features(
        scheme(entity="product", driver="volume"),
        plain,
        pl.DataFrame({"entity_key": ["p1", "p2"]}),
        AS_OF,
    )
    rows = by_key(frame)
    assert rows["p1"]["volume"] == 2.0 and rows["p1"]["revenue"] is None
    assert rows["p2"]["revenue"] is None and rows["p1"]["max_period_share"] == 1.0


def test_required_order_columns() -> None:
    base = {"customer_code", "sku", "order_no", "order_date", "quantity"}
    assert required_order_columns(scheme(driver="volume")) == base
    assert required_order_columns(scheme(driver="revenue")) == base | {"revenue"}
    assert required_order_columns(scheme(driver="margin")) == base | {"margin"}
    with_pct = scheme(
        driver="volume",
        tree="  - when: {attr: margin_pct, gt: 0.1}\n    segment: S\n  - segment: S\n",
    )
    assert required_order_columns(with_pct) == base | {"revenue", "margin"}


def pair_scheme(since: str | None) -> Scheme:
    option = f", since: {since}" if since else ""
    text = (
        "code: pairs\nname: P\nentity: customer_product\nwindow: {months: 12}\n"
        f"variability: {{bucket: month{option}}}\nsegments: [{{code: S, name: S, rank: 1}}]\n"
        "tree:\n  - segment: S\n"
    )
    return parse_scheme(text).scheme


def test_pair_variability_from_the_first_order_or_over_the_whole_window() -> None:
    # A pair that started trading three months ago orders 5 every month since; an established
    # pair (it ordered before the window) orders the same, but nothing earlier in the window.
    as_of = date(2025, 12, 31)
    lines = [
        (customer, "p1", f"{customer}-{m}", date(2025, m, 10), 5.0, 50.0, 5.0)
        for customer in ("new", "old")
        for m in (10, 11, 12)
    ]
    entities = pl.DataFrame(
        {
            "customer_code": ["new", "old"],
            "sku": ["p1", "p1"],
            "first_order": [date(2025, 10, 10), date(2023, 5, 2)],
        }
    )
    whole = by_key(compute_features(pair_scheme(None), orders(lines), entities, as_of))
    # the default counts the nine empty months before the first order as zero demand:
    # 3 of 12 months at 5 -> mean 1.25, std sqrt(3) * 1.25 -> cv sqrt(3)
    assert pair_scheme(None).variability.since == "window"
    assert whole["new|p1"]["cv"] == pytest.approx(math.sqrt(3))
    assert whole["old|p1"]["cv"] == pytest.approx(math.sqrt(3))
    since = by_key(compute_features(pair_scheme("first_order"), orders(lines), entities, as_of))
    assert since["new|p1"]["cv"] == pytest.approx(0.0)  # steady since it began
    assert since["old|p1"]["cv"] == pytest.approx(math.sqrt(3))  # quiet months were real
    assert "first_order" not in since["new|p1"]  # an input, not a feature
    # without a known first order, the first order inside the window is where it starts
    bare = by_key(
        compute_features(
            pair_scheme("first_order"), orders(lines), entities.drop("first_order"), as_of
        )
    )
    assert bare["new|p1"]["cv"] == pytest.approx(0.0) and bare["old|p1"]["cv"] == 0.0


def test_variability_since_keeps_earlier_content_hashes() -> None:
    from tierline.segmentation.schemes.document import content_hash, scheme_to_dict

    # versions published before the key existed keep their hash; choosing it changes it
    assert "since" not in scheme_to_dict(pair_scheme(None))["variability"]
    assert content_hash(pair_scheme(None)) == content_hash(pair_scheme("window"))
    assert content_hash(pair_scheme("first_order")) != content_hash(pair_scheme(None))
    assert scheme_to_dict(pair_scheme("first_order"))["variability"]["since"] == "first_order"
