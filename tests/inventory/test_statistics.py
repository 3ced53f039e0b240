"""Demand and lead-time statistics: classes, zero periods, lane fall-backs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tierline.inventory.formulas import Flag
from tierline.inventory.statistics import demand_statistics, lead_time_statistics


def buckets(rows: list[tuple[str, str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["sku", "location_code", "bucket", "quantity"], orient="row"
    ).with_columns(pl.col("bucket").cast(pl.Int32), pl.col("quantity").cast(pl.Float64))


def test_mean_sd_and_zero_periods_count_the_empty_periods() -> None:
    series = [5.0, 0.0, 7.0, 0.0, 3.0, 0.0, 0.0, 9.0, 0.0, 6.0]
    rows = [("A", "DC", i, q) for i, q in enumerate(series) if q]
    rows.append(("A", "DC", 0, 0.0))  # a zero line does not make a demand period
    stats = demand_statistics(buckets(rows), periods=len(series)).row(0, named=True)
    assert stats["demand_mean"] == pytest.approx(np.mean(series))
    assert stats["demand_sd"] == pytest.approx(np.std(series, ddof=1))
    assert stats["zero_periods"] == 5
    assert stats["adi"] == pytest.approx(2.0)
    sizes = np.array([q for q in series if q])
    assert stats["cv2"] == pytest.approx(sizes.var() / sizes.mean() ** 2)
    assert stats["demand_class"] == "intermittent"


def test_the_four_classes() -> None:
    rows = []
    # smooth: demand every period, stable sizes
    rows += [("S", "DC", i, 10.0 + (i % 2)) for i in range(20)]
    # erratic: every period, sizes all over
    rows += [("E", "DC", i, [1.0, 30.0, 2.0, 50.0][i % 4]) for i in range(20)]
    # intermittent: every 4th period, stable sizes
    rows += [("I", "DC", i, 10.0) for i in range(0, 20, 4)]
    # lumpy: every 4th period, sizes all over
    rows += [("L", "DC", i, [1.0, 40.0][(i // 4) % 2]) for i in range(0, 20, 4)]
    stats = demand_statistics(buckets(rows), periods=20)
    classes = dict(zip(stats["sku"], stats["demand_class"], strict=True))
    assert classes == {"S": "smooth", "E": "erratic", "I": "intermittent", "L": "lumpy"}


def test_lead_times_fall_back_to_the_planned_lead_time_with_too_few_observations() -> None:
    sku_locations = pl.DataFrame({"sku": ["A", "B", "C"], "location_code": ["DC1", "DC2", "DC3"]})
    observations = pl.DataFrame(
        {
            "sku": ["A"] * 6 + ["B"] * 2,
            "location_code": ["DC1"] * 6 + ["DC2"] * 2,
            "supplier_code": ["S1"] * 6 + ["S2"] * 2,
            "lead_time_days": [10.0, 12.0, 8.0, 14.0, 6.0, 10.0, 3.0, 30.0],
        }
    )
    lanes = pl.DataFrame(
        {
            "location_code": ["DC1", "DC2"],
            "source_code": ["S1", "S2"],
            "planned_lead_time_days": [9.0, 10.0],
            "calendar": ["calendar", "working"],
        }
    )
    out = lead_time_statistics(
        sku_locations, observations, lanes, min_observations=5, fallback_cv=0.2, period_days=7
    ).sort("sku")
    a, b, c = out.rows(named=True)
    assert a["lead_time_source"] == "observed" and a["lead_time_observations"] == 6
    assert a["lead_time_mean"] == pytest.approx(10.0 / 7)
    assert a["lead_time_sd"] == pytest.approx(np.std([10, 12, 8, 14, 6, 10], ddof=1) / 7)
    assert b["lead_time_source"] == "planned" and b["lead_time_observations"] == 2
    assert b["lead_time_mean"] == pytest.approx(10.0 * 7 / 5 / 7)  # working days
    assert b["lead_time_sd"] == pytest.approx(0.2 * 10.0 * 7 / 5 / 7)
    assert b["lead_time_flags"] == Flag.LEAD_TIME_PLANNED
    assert c["lead_time_source"] == "missing" and c["lead_time_mean"] is None
    assert c["lead_time_flags"] == Flag.LEAD_TIME_MISSING
