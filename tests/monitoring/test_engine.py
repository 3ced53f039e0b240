"""The KPI engine on the hand-computed dozen orders, on bad input, and its exact attainment."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tierline.monitoring.definitions import (
    DEFAULT,
    DefinitionInvalid,
    KpiDefinition,
    parse_definition,
)
from tierline.monitoring.engine import (
    LINE_SCHEMA,
    UNCLASSIFIED,
    attainment,
    cell_counts,
    kpis,
    roll_up,
    targets_by_period,
)

from .example import AS_OF, CUSTOMER, EXPECTED, ON_TIME, ORDERED, example_line, example_lines

NO_ASSIGNMENTS = pl.DataFrame(
    schema={
        "customer_code": pl.String,
        "segment": pl.String,
        "valid_from": pl.Date,
        "valid_to": pl.Date,
    }
)


def totals(lines: pl.DataFrame, definition: KpiDefinition = DEFAULT) -> dict[str, object]:
    counts = cell_counts(lines, NO_ASSIGNMENTS, definition, "week", AS_OF)
    return kpis(roll_up(counts, []), definition).row(0, named=True)


def test_the_dozen_orders_give_the_hand_computed_figures() -> None:
    found = totals(example_lines())
    assert found["lines"] == EXPECTED["lines"]
    assert found["delivered_lines"] == EXPECTED["delivered_lines"]
    assert found["units_ordered"] == EXPECTED["units_ordered"]
    assert found["units_delivered"] == EXPECTED["units_delivered"]
    assert found["orders"] == 12
    for kpi in ("unit_fill_rate", "line_fill_rate", "order_fill_rate", "lead_time_days"):
        assert found[kpi] == pytest.approx(EXPECTED[kpi]), kpi
    assert found["otif"] == pytest.approx(EXPECTED["otif_line"])
    assert found["perfect_order"] == pytest.approx(EXPECTED["perfect_order"])
    assert found["backorder_rate"] == pytest.approx(EXPECTED["backorder_rate"])


def test_order_level_otif_and_the_product_of_components_differ_from_the_joint_rate() -> None:
    by_order = totals(example_lines(), KpiDefinition(otif_level="order"))
    assert by_order["otif"] == pytest.approx(EXPECTED["otif_order"])
    product = totals(example_lines(), KpiDefinition(perfect_order="product"))
    assert product["perfect_order"] == pytest.approx(EXPECTED["perfect_order_product"])
    # 4 of 11 orders are perfect (36.4 %), the product of the four order rates says 31.5 %:
    # failures that fall on the same orders are counted once by the joint rate
    assert product["perfect_order"] < by_order["perfect_order"]


def test_tolerance_and_basis_change_what_is_on_time() -> None:
    late_ok = totals(example_lines(), KpiDefinition(late_days=2))
    assert late_ok["otif"] == pytest.approx(EXPECTED["otif_line_late_2_days"])
    requested = totals(example_lines(), KpiDefinition(otif_basis="requested"))
    assert requested["otif"] == pytest.approx(EXPECTED["otif_line_requested"])
    early = example_lines().with_columns(pl.lit(date(2026, 3, 3)).alias("delivered_date"))
    assert totals(early, KpiDefinition(early_days=1))["lines_on_time"] == 0
    # every line with a delivered quantity (O8 line 1 has none)
    assert totals(early, KpiDefinition(early_days=3))["lines_on_time"] == 27


def test_a_delivery_before_its_order_is_flagged_and_not_measured() -> None:
    lines = pl.DataFrame(
        [example_line(1, 1), example_line(1, 2, delivered_date=date(2026, 2, 27))],
        schema=LINE_SCHEMA,
    )
    found = totals(lines)
    assert found["lines"] == 2
    assert found["dq_delivered_before_order"] == 1
    assert found["delivered_lines"] == 1  # the impossible delivery is not counted as one
    assert found["orders_delivered"] == 0  # the order is not delivered until it is credible


def test_a_delivery_above_the_ordered_quantity_is_in_full_but_not_credited_beyond() -> None:
    lines = pl.DataFrame(
        [example_line(1, 1, delivered_quantity=14.0), example_line(1, 2)], schema=LINE_SCHEMA
    )
    found = totals(lines)
    assert found["dq_over_delivered"] == 1
    assert found["units_delivered"] == found["units_ordered"] == 20 * 10_000
    assert found["unit_fill_rate"] == 1.0
    assert found["lines_in_full"] == 2


def test_missing_dates_leave_the_line_counted_but_unjudged() -> None:
    lines = pl.DataFrame(
        [
            example_line(1, 1, promised_date=None),
            example_line(1, 2),
            example_line(2, 1, delivered_quantity=None),
        ],
        schema=LINE_SCHEMA,
    )
    found = totals(lines)
    assert found["lines"] == 3
    assert found["dq_missing_due_date"] == 1
    assert found["dq_missing_quantity"] == 1
    assert found["judged_lines"] == 1  # only the line with a date and a quantity
    assert found["otif"] == 1.0
    assert found["orders_judged"] == 0  # neither order has every line judgeable


def test_lines_of_a_customer_never_classified_count_under_unclassified() -> None:
    assignments = pl.DataFrame(
        {
            "customer_code": ["C-GOLD"],
            "segment": ["GOLD"],
            "valid_from": [date(2026, 1, 1)],
            "valid_to": [None],
        },
        schema=NO_ASSIGNMENTS.schema,
    )
    lines = pl.DataFrame(
        [example_line(1, 1), example_line(2, 1, customer_code="C-GOLD")], schema=LINE_SCHEMA
    )
    counts = cell_counts(lines, assignments, DEFAULT, "week", AS_OF)
    by_segment = dict(roll_up(counts, ["segment"]).select("segment", "lines").iter_rows())
    assert by_segment == {"GOLD": 1, UNCLASSIFIED: 1}


def test_the_segment_in_force_on_the_order_date_gets_the_line() -> None:
    assignments = pl.DataFrame(
        {
            "customer_code": [CUSTOMER, CUSTOMER],
            "segment": ["SILVER", "GOLD"],
            "valid_from": [date(2026, 1, 1), date(2026, 3, 4)],
            "valid_to": [date(2026, 3, 4), None],
        },
        schema=NO_ASSIGNMENTS.schema,
    )
    lines = pl.DataFrame(
        [
            example_line(1, 1, order_date=date(2026, 3, 3)),
            example_line(2, 1, order_date=date(2026, 3, 4)),
            example_line(3, 1, order_date=date(2025, 12, 31)),
        ],
        schema=LINE_SCHEMA,
    )
    counts = cell_counts(lines, assignments, DEFAULT, "month", AS_OF)
    found = {(r["segment"], r["period_start"]) for r in counts.iter_rows(named=True)}
    assert found == {
        ("SILVER", date(2026, 3, 1)),
        ("GOLD", date(2026, 3, 1)),
        (UNCLASSIFIED, date(2025, 12, 1)),
    }


def test_attainment_is_decided_exactly_at_the_target() -> None:
    # 4 of 5 lines OTIF against a target of exactly 80 %: met, never 0.7999999 < 0.8
    lines = pl.DataFrame(
        [example_line(i, 1, delivered_date=ON_TIME, delivered_quantity=10.0) for i in (1, 2, 4, 5)]
        + [example_line(7, 1, delivered_date=date(2026, 3, 9))],
        schema=LINE_SCHEMA,
    )
    counts = roll_up(
        cell_counts(lines, NO_ASSIGNMENTS, DEFAULT, "week", AS_OF), ["segment", "period_start"]
    )
    versions = pl.DataFrame(
        {
            "segment": [UNCLASSIFIED],
            "effective_from": [date(2026, 1, 1)],
            "effective_to": [None],
            "fill_rate_target": [100_000],
            "otif_target": [80_000],
            "perfect_order_target": [80_001],
            "quoted_lead_time_days": [3],
        },
        schema_overrides={"effective_to": pl.Date},
    )
    targets = targets_by_period(versions, [ORDERED], "week")
    row = attainment(counts, targets, DEFAULT).row(0, named=True)
    assert row["otif_met"] is True
    assert row["perfect_order_met"] is False
    assert row["unit_fill_rate_met"] is True
    assert row["lead_time_days_met"] is False  # (4 x 3 + 7) / 5 = 3.8 days against 3 quoted


def test_the_target_of_a_period_is_the_version_in_force_when_it_closes() -> None:
    versions = pl.DataFrame(
        {
            "segment": ["GOLD", "GOLD"],
            "effective_from": [date(2026, 1, 1), date(2026, 3, 5)],
            "effective_to": [date(2026, 3, 5), None],
            "fill_rate_target": [90_000, 95_000],
            "otif_target": [90_000, 95_000],
            "perfect_order_target": [90_000, 95_000],
            "quoted_lead_time_days": [3, 2],
        }
    )
    targets = targets_by_period(versions, [date(2026, 2, 23), date(2026, 3, 2)], "week")
    found = dict(targets.select("period_start", "otif_target").iter_rows())
    assert found == {date(2026, 2, 23): 90_000, date(2026, 3, 2): 95_000}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"otif_basis": "shipped"}, "otif_basis"),
        ({"late_days": -1}, "late_days"),
        ({"early_days": 400}, "early_days"),
        ({"otif_level": "pallet"}, "otif_level"),
        ({"alert_k": 5, "alert_n": 4}, "alert_k"),
        ({"colour": "red"}, "definition"),
    ],
)
def test_an_impossible_definition_is_refused_with_its_field(
    raw: dict[str, object], field: str
) -> None:
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition(raw)
    assert field in {e.field for e in refused.value.errors}
