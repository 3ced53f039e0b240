"""Review of false positives (issue 17 item 7), worked by hand on four moves a spike drove.

Weekly grain, a window of 2 weeks each side. Moves (all proposed or applied on Wednesday
2026-03-04, so the move's week starts Monday 2026-03-02):

1. C1 applied Silver -> Gold, later back to Silver      -> reverted
2. C2 applied Silver -> Gold, nothing later              -> kept
3. C3 held (rejected) Gold -> Bronze, later to Bronze    -> moved later
4. C4 held (pending) Gold -> Bronze, nothing later       -> stayed

Unit fill rate of C1: weeks 02-16 and 02-23 (before): 90 + 80 of 100 + 100 = 170/200 = 0.85;
weeks 03-02 and 03-09 (after): 100 + 95 of 100 + 100 = 195/200 = 0.975; change +0.125.
Week 02-09 is outside the window and must not count (its 0 of 100 would pull "before" down).
C2 has lines after the move only: before is null, after 50/50 = 1.0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from tierline.monitoring.definitions import DEFAULT
from tierline.monitoring.engine import COUNTS
from tierline.monitoring.false_positives import review

MOVED = datetime(2026, 3, 4, 10, tzinfo=UTC)


def _moves() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "move_id": [1, 2, 3, 4],
            "scheme_code": ["abc"] * 4,
            "entity_key": ["C1", "C2", "C3", "C4"],
            "customer_code": ["C1", "C2", "C3", "C4"],
            "from_segment": ["SILVER", "SILVER", "GOLD", "GOLD"],
            "to_segment": ["GOLD", "GOLD", "BRONZE", "BRONZE"],
            "status": ["applied", "applied", "rejected", "pending"],
            "moved_at": [MOVED] * 4,
        }
    )


def _history() -> pl.DataFrame:
    rows = [
        ("C1", "SILVER", datetime(2025, 1, 1, tzinfo=UTC)),  # before the move: not "later"
        ("C1", "GOLD", MOVED),  # the move itself starts at moved_at: not "later"
        ("C1", "SILVER", datetime(2026, 4, 1, tzinfo=UTC)),
        ("C2", "GOLD", MOVED),
        ("C3", "BRONZE", datetime(2026, 5, 1, tzinfo=UTC)),
        ("C4", "GOLD", datetime(2025, 1, 1, tzinfo=UTC)),
        ("C9", "SILVER", datetime(2026, 5, 1, tzinfo=UTC)),  # no move: ignored
    ]
    return pl.DataFrame(
        {
            "scheme_code": ["abc"] * len(rows),
            "entity_key": [r[0] for r in rows],
            "segment": [r[1] for r in rows],
            "valid_from": [r[2] for r in rows],
        }
    )


def _counts() -> pl.DataFrame:
    rows = [  # customer, week, units ordered, units delivered
        ("C1", date(2026, 2, 9), 100, 0),
        ("C1", date(2026, 2, 16), 100, 90),
        ("C1", date(2026, 2, 23), 100, 80),
        ("C1", date(2026, 3, 2), 100, 100),
        ("C1", date(2026, 3, 9), 100, 95),
        ("C1", date(2026, 3, 16), 100, 0),  # after the window
        ("C2", date(2026, 3, 9), 50, 50),
    ]
    frame = pl.DataFrame(
        {
            "customer_code": [r[0] for r in rows],
            "period_start": [r[1] for r in rows],
            "units_ordered": [r[2] for r in rows],
            "units_delivered": [r[3] for r in rows],
        }
    )
    # the engine's verdict per segment-period against the target in force (95 %, say):
    # before, 02-16 missed and 02-23 missed; after, 03-02 met and 03-09 met
    met = [False, False, False, True, True, False, True]
    return frame.with_columns(
        [pl.lit(1, pl.Int64).alias(c) for c in COUNTS if c not in frame.columns]
        + [pl.Series("unit_fill_rate_met", met)]
    )


def test_each_spike_move_gets_its_verdict_and_service_change() -> None:
    out = review(
        _moves(), _history(), _counts(), DEFAULT, grain="week", periods=2, kpi="unit_fill_rate"
    )
    by_id = {r["move_id"]: r for r in out.iter_rows(named=True)}
    assert out["move_id"].to_list() == [1, 2, 3, 4]
    assert [by_id[i]["verdict"] for i in (1, 2, 3, 4)] == [
        "reverted",
        "kept",
        "moved_later",
        "stayed",
    ]
    assert [by_id[i]["effect"] for i in (1, 2, 3, 4)] == ["applied", "applied", "held", "held"]
    assert by_id[1]["later_segments"] == ["SILVER"]
    assert by_id[3]["later_segments"] == ["BRONZE"]
    assert by_id[4]["later_segments"] == []
    assert by_id[1]["kpi_before"] == pytest.approx(0.85)
    assert by_id[1]["kpi_after"] == pytest.approx(0.975)
    assert by_id[1]["kpi_change"] == pytest.approx(0.125)
    assert (by_id[1]["lines_before"], by_id[1]["lines_after"]) == (2, 2)
    assert (by_id[1]["met_before"], by_id[1]["measured_before"]) == (0, 2)
    assert (by_id[1]["met_after"], by_id[1]["measured_after"]) == (2, 2)
    assert (by_id[2]["met_after"], by_id[2]["measured_after"]) == (1, 1)
    assert by_id[2]["kpi_before"] is None and by_id[2]["kpi_after"] == pytest.approx(1.0)
    assert by_id[2]["kpi_change"] is None
    assert by_id[4]["kpi_before"] is None and by_id[4]["lines_after"] == 0


def test_monthly_window_and_no_counts() -> None:
    out = review(
        _moves(), _history(), _counts(), DEFAULT, grain="month", periods=1, kpi="unit_fill_rate"
    )
    c1 = out.filter(pl.col("move_id") == 1).row(0, named=True)
    # the window is by period start: February (before) 0 + 90 + 80 of 300; March (from the
    # move's month on) 100 + 95 + 0 of 300
    assert c1["kpi_before"] == pytest.approx(170 / 300)
    assert c1["kpi_after"] == pytest.approx(195 / 300)
    empty = review(
        _moves(), _history(), _counts().clear(), DEFAULT, grain="week", periods=2, kpi="otif"
    )
    assert empty["verdict"].to_list() == ["reverted", "kept", "moved_later", "stayed"]
    assert empty["kpi_before"].null_count() == 4
    assert empty["measured_after"].to_list() == [0, 0, 0, 0]
    otif = review(_moves(), _history(), _counts(), DEFAULT, grain="week", periods=2, kpi="otif")
    assert otif["measured_before"].to_list() == [0, 0, 0, 0]  # no otif_met: no attainment
