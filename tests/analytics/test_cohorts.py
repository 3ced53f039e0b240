"""Cohorts after a reclassification: the difference in differences against a direct
computation on a hand-made panel, too-small cohorts, matching, and a real tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tests.analytics.conftest import FEB
from tierline.analytics.cohorts.did import difference_in_differences
from tierline.analytics.cohorts.figures import (
    CohortRefused,
    analyse,
    choose_month,
    cohort_analysis,
)
from tierline.analytics.cohorts.panel import Windows, match
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

# Orders per month of five movers and five stayers, before and after.
MOVERS = (np.array([2.0, 3, 4, 5, 6]), np.array([3.0, 5, 4, 8, 6]))
STAYERS = (np.array([2.0, 3, 4, 5, 6]), np.array([2.0, 3, 5, 5, 5]))


def test_did_equals_the_direct_computation_with_welchs_interval() -> None:
    estimate = difference_in_differences("orders", MOVERS, STAYERS)
    # (mean after - mean before) of movers - the same of stayers: (5.2 - 4) - (4 - 4) = 1.2.
    direct = (MOVERS[1].mean() - MOVERS[0].mean()) - (STAYERS[1].mean() - STAYERS[0].mean())
    assert estimate.effect == pytest.approx(direct) == pytest.approx(1.2)
    # Changes [1, 2, 0, 3, 0] and [0, 0, 1, 0, -1]: variances 1.7 and 0.5, se^2 = 0.44,
    # Welch df = 0.44^2 / (0.34^2/4 + 0.1^2/4) = 6.166.
    welch = stats.ttest_ind(MOVERS[1] - MOVERS[0], STAYERS[1] - STAYERS[0], equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert (estimate.low, estimate.high) == pytest.approx((interval.low, interval.high))
    half = stats.t.ppf(0.975, 0.44**2 / (0.34**2 / 4 + 0.1**2 / 4)) * 0.44**0.5
    assert estimate.high == pytest.approx(1.2 + half)
    assert (estimate.movers, estimate.stayers) == (5, 5)
    assert estimate.movers_before == 4.0 and estimate.stayers_after == 4.0
    assert not estimate.clear  # the interval spans zero: not an effect


def test_a_cohort_too_small_gives_no_effect_only_its_size() -> None:
    small = (MOVERS[0][:3], MOVERS[1][:3])
    estimate = difference_in_differences("orders", small, STAYERS)
    assert estimate.too_small and estimate.effect is None and estimate.low is None
    assert estimate.note is not None and "3 movers and 5 matched stayers" in estimate.note
    assert estimate.movers_before == 3.0  # the plain means are still shown


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=5, max_size=20),
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=5, max_size=20),
    st.integers(-10, 10),
)
def test_a_shift_common_to_both_cohorts_changes_nothing(
    movers: list[tuple[int, int]], stayers: list[tuple[int, int]], shift: int
) -> None:
    m = tuple(np.array(v, dtype=float) for v in zip(*movers, strict=True))
    s = tuple(np.array(v, dtype=float) for v in zip(*stayers, strict=True))
    base = difference_in_differences("x", (m[0], m[1]), (s[0], s[1]))
    moved = difference_in_differences("x", (m[0], m[1] + shift), (s[0], s[1] + shift))
    assert base.effect == pytest.approx(moved.effect)
    assert base.low is not None and base.low <= base.effect <= base.high  # type: ignore[operator]


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _panel() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six customers in A since 2025; M1..M3 move to B on 10 April 2026, S1..S3 stay. Windows
    of two months: February-March before, May-June after. Each orders one line of ``units``
    per month it is active, order numbers unique per line."""
    start, moved = _at(date(2025, 1, 1)), _at(date(2026, 4, 10))
    history = [("M1", "A", start, moved), ("M1", "B", moved, None),
               ("M2", "A", start, moved), ("M2", "B", moved, None),
               ("M3", "A", start, moved), ("M3", "B", moved, None),
               ("S1", "A", start, None), ("S2", "A", start, None), ("S3", "A", start, None)]  # fmt: skip
    stamp = pl.Datetime("us", "UTC")
    hist = pl.DataFrame(
        history,
        schema={"customer_code": pl.String, "segment": pl.String, "valid_from": stamp,
                "valid_to": stamp},
        orient="row",
    )  # fmt: skip
    # (customer, units, months ordered before, months ordered after)
    plan = [("M1", 10, [2, 3], [5, 6]), ("M2", 20, [2, 3], [5]), ("M3", 40, [2, 3], []),
            ("S1", 11, [2, 3], [5, 6]), ("S2", 19, [2, 3], [5, 6]), ("S3", 200, [2, 3], [5, 6])]  # fmt: skip
    rows = []
    for code, units, before, after in plan:
        for month in before + after:
            rows.append((code, f"{code}-{month}", "P1", date(2026, month, 15), float(units)))
    lines = pl.DataFrame(
        rows,
        schema={"customer_code": pl.String, "order_no": pl.String, "sku": pl.String,
                "order_date": pl.Date, "quantity": pl.Float64},
        orient="row",
    )  # fmt: skip
    return hist, lines


def test_panel_moves_matches_on_size_and_estimates_each_metric() -> None:
    history, lines = _panel()
    result = analyse("s", history, lines, Windows(date(2026, 4, 1), 2), churn=1, min_size=2)
    assert result.movers == 3 and [
        (g.from_segment, g.to_segment, g.movers) for g in result.groups
    ] == [("A", "B", 3)]
    # M1 (10 units) takes S1 (11), M2 (20) takes S2 (19); M3 (40) has no stayer within a
    # factor of two (S3 orders 200): unmatched.
    assert result.matched == 2 and result.unmatched == ["M3"]
    orders = next(e for e in result.estimates if e.metric == "orders")
    # Orders per month: M1 1 -> 1, M2 1 -> 0.5; S1 1 -> 1, S2 1 -> 1: (-0.25) - 0 = -0.25.
    assert orders.effect == pytest.approx(-0.25)
    churned = next(e for e in result.estimates if e.metric == "churned")
    # Churn over the last month of a window: M2 ordered in May only, so churned in June.
    assert churned.effect == pytest.approx(0.5)


def test_matching_takes_each_stayer_once() -> None:
    movers = pl.DataFrame({"customer_code": ["M1", "M2"], "from_segment": ["A", "A"],
                           "volume_before": [10.0, 10.0]})  # fmt: skip
    pool = pl.DataFrame({"customer_code": ["S1", "S2", "S3"], "from_segment": ["A", "A", "B"],
                         "volume_before": [10.0, 12.0, 10.0]})  # fmt: skip
    pairs, unmatched = match(movers, pool)
    assert pairs.rows() == [("M1", "S1"), ("M2", "S2")] and unmatched == []


async def test_cohorts_of_a_real_tenant_show_a_too_small_cohort_as_such(
    runtime: Runtime, commercial: TenantRef
) -> None:
    result = await cohort_analysis(runtime, commercial, FEB, months=3)
    # C1 moved A -> B on 1 February; no other customer stayed in A: nobody to compare with.
    assert result.movers == 1 and result.unmatched == ["C1"]
    assert all(e.too_small for e in result.estimates)
    with pytest.raises(CohortRefused, match="1 to 12 months"):
        await cohort_analysis(runtime, commercial, FEB, months=13)
    with pytest.raises(CohortRefused, match="churn counts 3 months"):
        await cohort_analysis(runtime, commercial, FEB, months=2)


def test_the_default_month_is_the_latest_with_a_full_after_window() -> None:
    stamp = pl.Datetime("us", "UTC")
    spans = [("A1", "A", _at(date(2025, 1, 1)), _at(date(2026, 3, 5))),
             ("A1", "B", _at(date(2026, 3, 5)), None),
             ("B1", "A", _at(date(2025, 1, 1)), _at(date(2026, 5, 20))),
             ("B1", "C", _at(date(2026, 5, 20)), None)]  # fmt: skip
    history = pl.DataFrame(
        spans,
        schema={"customer_code": pl.String, "segment": pl.String, "valid_from": stamp,
                "valid_to": stamp},
        orient="row",
    )  # fmt: skip
    newest = date(2026, 7, 15)
    assert choose_month(history, 2, newest) == date(2026, 5, 1)  # May + 2 = July: covered
    assert choose_month(history, 3, newest) == date(2026, 3, 1)  # August is not
    assert choose_month(history, 6, newest) == date(2026, 5, 1)  # none covered: the latest
    with pytest.raises(CohortRefused, match="nobody has moved"):
        choose_month(history.filter(pl.col("customer_code") == "X"), 2, newest)


async def test_the_real_tenants_default_month_and_incomplete_after_window(
    runtime: Runtime, commercial: TenantRef
) -> None:
    result = await cohort_analysis(runtime, commercial, None, months=3)
    assert result.windows.month == FEB and result.after_complete is False
