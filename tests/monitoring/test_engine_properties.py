"""Properties of the KPI engine: recomputing only the touched periods equals a full
recomputation; counts add up across any roll-up; a line always gets the segment in force on its
order date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierline.monitoring.definitions import DEFAULT, KpiDefinition
from tierline.monitoring.engine import (
    COUNTS,
    LINE_SCHEMA,
    UNCLASSIFIED,
    Grain,
    attribute_segments,
    cell_counts,
    roll_up,
)
from tierline.monitoring.incremental import lines_for_periods, replace_periods, touched_periods

START = date(2026, 1, 5)
AS_OF = date(2026, 4, 1)
CUSTOMERS = ("C1", "C2", "C3")


@st.composite
def order_lines(draw: Any, orders: int = 8, prefix: str = "O") -> list[dict[str, Any]]:
    rows = []
    for number in range(draw(st.integers(1, orders))):
        customer = draw(st.sampled_from(CUSTOMERS))
        ordered = START + timedelta(days=draw(st.integers(0, 70)))
        for line in range(1, draw(st.integers(1, 3)) + 1):
            qty = float(draw(st.integers(1, 20)))
            delivered = draw(st.one_of(st.none(), st.integers(-2, 15)))
            rows.append(
                {
                    "order_no": f"{prefix}{number}",
                    "line_no": line,
                    "customer_code": customer,
                    "sku": draw(st.sampled_from(("A", "B"))),
                    "location_code": draw(st.sampled_from(("L1", None))),
                    # lines of one order may (in bad data) carry different order dates
                    "order_date": ordered + timedelta(days=draw(st.sampled_from((0, 0, 9)))),
                    "requested_date": ordered + timedelta(days=draw(st.integers(1, 8))),
                    "promised_date": draw(
                        st.one_of(st.none(), st.just(ordered + timedelta(days=5)))
                    ),
                    "delivered_date": None
                    if delivered is None
                    else ordered + timedelta(days=delivered),
                    "quantity": qty,
                    "delivered_quantity": None
                    if delivered is None
                    else float(draw(st.integers(0, 25))),
                    "damaged": draw(st.booleans()),
                    "documentation_ok": draw(st.booleans()),
                }
            )
    return rows


def upsert(old: list[dict[str, Any]], batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an import does: lines keyed by (order_no, line_no) replaced, new ones added."""
    by_key = {(r["order_no"], r["line_no"]): r for r in old}
    by_key.update({(r["order_no"], r["line_no"]): r for r in batch})
    return list(by_key.values())


ASSIGNMENTS = pl.DataFrame(
    {
        "customer_code": ["C1", "C1", "C2"],
        "segment": ["GOLD", "SILVER", "BRONZE"],
        "valid_from": [date(2026, 1, 1), date(2026, 2, 10), date(2026, 1, 20)],
        "valid_to": [date(2026, 2, 10), None, date(2026, 3, 1)],
    }
)


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LINE_SCHEMA)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=order_lines(),
    batch=order_lines(orders=5),
    grain=st.sampled_from(("week", "month")),
    definition=st.builds(
        KpiDefinition,
        otif_level=st.sampled_from(("line", "order")),
        late_days=st.integers(0, 3),
    ),
)
def test_recomputing_the_touched_periods_equals_a_full_recomputation(
    old: list[dict[str, Any]],
    batch: list[dict[str, Any]],
    grain: Grain,
    definition: KpiDefinition,
) -> None:
    stored = cell_counts(frame(old), ASSIGNMENTS, definition, grain, AS_OF)
    new_lines = frame(upsert(old, batch))
    # a replaced line's old order date counts too (the periods it leaves): the changed
    # orders are looked up among the old and the new lines
    changed = frame(batch).select("customer_code", "order_no", "order_date")
    periods = touched_periods(changed, pl.concat([frame(old), new_lines]), grain)
    fresh = cell_counts(
        lines_for_periods(new_lines, periods, grain), ASSIGNMENTS, definition, grain, AS_OF
    )
    incremental = replace_periods(stored, fresh, periods)
    full = cell_counts(new_lines, ASSIGNMENTS, definition, grain, AS_OF)
    assert incremental.sort(incremental.columns[:5]).equals(full.sort(full.columns[:5]))


@settings(max_examples=40, deadline=None)
@given(rows=order_lines(orders=12))
def test_counts_add_up_across_any_roll_up(rows: list[dict[str, Any]]) -> None:
    counts = cell_counts(frame(rows), ASSIGNMENTS, DEFAULT, "week", AS_OF)
    total = roll_up(counts, [])
    for by in (["segment"], ["customer_code", "period_start"], ["sku", "location_code"]):
        assert roll_up(roll_up(counts, by), []).equals(total)
    assert total["lines"][0] == len(rows)
    assert total["orders"][0] == len({r["order_no"] for r in rows})
    for name in COUNTS:
        assert total[name][0] >= 0


@settings(max_examples=60, deadline=None)
@given(rows=order_lines(orders=12))
def test_a_line_gets_the_segment_in_force_on_its_order_date(rows: list[dict[str, Any]]) -> None:
    found = attribute_segments(frame(rows), ASSIGNMENTS)
    for row in found.iter_rows(named=True):
        expected = UNCLASSIFIED
        for span in ASSIGNMENTS.iter_rows(named=True):
            ends = span["valid_to"]
            if (
                span["customer_code"] == row["customer_code"]
                and span["valid_from"] <= row["order_date"]
                and (ends is None or row["order_date"] < ends)
            ):
                expected = span["segment"]
        assert row["segment"] == expected
