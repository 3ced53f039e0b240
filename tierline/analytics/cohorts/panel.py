"""The panel a cohort analysis looks at, from assignment history and order lines (pure):
who moved in a month, who stayed, how they are matched, and each customer's figures before
and after.

- **Movers**: customers whose segment changed on a day of the month (a new assignment
  starting where the previous one, in another segment, ended).
- **Stayers**: customers in one segment from the start of the month (their starting segment)
  through the end of the after window, without a change.
- **Matching**: each mover (by code) takes the not yet taken stayer of its starting segment
  whose volume before is nearest on a log scale, within a factor of :data:`CALIPER`; a mover
  with none is left unmatched and counted (never compared with an unlike customer).
- **Windows**: the ``months`` whole months before the move month and the ``months`` after it
  (the move month itself, half old and half new, is left out).
- **Metrics** per customer and window: orders per month, units per month, distinct products
  (mix), and churned (no order in the window's last ``churn`` months: 1, else 0).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import date
from typing import Final

import polars as pl

CALIPER: Final = 2.0
METRICS: Final = ("orders", "volume", "mix", "churned")
METRIC_TEXT: Final = {
    "orders": "orders per month",
    "volume": "units per month",
    "mix": "distinct products ordered",
    "churned": "share churned (no order in the last months of the window)",
}


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Windows:
    month: date
    months: int

    @property
    def before(self) -> tuple[date, date]:
        return add_months(self.month, -self.months), add_months(self.month, -1)

    @property
    def after(self) -> tuple[date, date]:
        return add_months(self.month, 1), add_months(self.month, self.months)


def _stamp(day: date) -> pl.Expr:
    return pl.lit(day).cast(pl.Datetime("us", "UTC"))


def moves_in(history: pl.DataFrame, month: date) -> pl.DataFrame:
    """``customer_code, from_segment, to_segment`` for each customer that changed segment
    during ``month`` (its last change in the month if several)."""
    spans = history.sort("customer_code", "valid_from").with_columns(
        pl.col("segment").shift(1).over("customer_code").alias("from_segment"),
        pl.col("valid_to").shift(1).over("customer_code").alias("previous_end"),
    )
    moved = spans.filter(
        (pl.col("valid_from") >= _stamp(month))
        & (pl.col("valid_from") < _stamp(add_months(month, 1)))
        & pl.col("from_segment").is_not_null()
        & (pl.col("from_segment") != pl.col("segment"))
        & (pl.col("previous_end") == pl.col("valid_from"))
    )
    return (
        moved.group_by("customer_code")
        .agg(pl.col("from_segment").first(), pl.col("segment").last().alias("to_segment"))
        .sort("customer_code")
    )


def move_months(history: pl.DataFrame) -> list[date]:
    """The months in which at least one customer changed segment, oldest first."""
    spans = history.sort("customer_code", "valid_from").with_columns(
        pl.col("segment").shift(1).over("customer_code").alias("from_segment"),
        pl.col("valid_to").shift(1).over("customer_code").alias("previous_end"),
    )
    moved = spans.filter(
        pl.col("from_segment").is_not_null()
        & (pl.col("from_segment") != pl.col("segment"))
        & (pl.col("previous_end") == pl.col("valid_from"))
    )
    months = moved.select(pl.col("valid_from").dt.date().dt.truncate("1mo").unique().sort())
    return list(months.to_series())


def stayers(history: pl.DataFrame, windows: Windows) -> pl.DataFrame:
    """``customer_code, from_segment``: in one segment from the start of the move month
    through the after window, without a change."""
    start = _stamp(windows.month)
    end = _stamp(add_months(windows.after[1], 1))
    return (
        history.filter(
            (pl.col("valid_from") <= start)
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= end))
        )
        .select("customer_code", pl.col("segment").alias("from_segment"))
        .unique("customer_code")
        .sort("customer_code")
    )


def window_metrics(
    lines: pl.DataFrame, window: tuple[date, date], months: int, churn: int
) -> pl.DataFrame:
    """Per customer with lines in ``window`` (month starts, inclusive): ``orders``, ``volume``
    (per month), ``mix`` and ``churned``; customers without lines are filled in by the caller."""
    first, last = window
    inside = lines.filter(
        (pl.col("order_date") >= first) & (pl.col("order_date") < add_months(last, 1))
    )
    quiet_from = add_months(last, 1 - churn)
    return inside.group_by("customer_code").agg(
        (pl.col("order_no").n_unique() / months).alias("orders"),
        (pl.col("quantity").sum() / months).alias("volume"),
        pl.col("sku").n_unique().cast(pl.Float64).alias("mix"),
        (~(pl.col("order_date") >= quiet_from).any()).cast(pl.Float64).alias("churned"),
    )


def customer_panel(
    lines: pl.DataFrame, codes: pl.Series, windows: Windows, churn: int
) -> pl.DataFrame:
    """``customer_code`` and ``<metric>_before`` / ``<metric>_after`` for each of ``codes``;
    a customer with no order in a window has 0 orders, volume and mix and is churned."""
    frame = pl.DataFrame({"customer_code": codes.unique()})
    for name, window in (("before", windows.before), ("after", windows.after)):
        metrics = window_metrics(lines, window, windows.months, churn)
        metrics = metrics.rename({m: f"{m}_{name}" for m in METRICS})
        frame = frame.join(metrics, on="customer_code", how="left").with_columns(
            pl.col(f"{m}_{name}").fill_null(1.0 if m == "churned" else 0.0) for m in METRICS
        )
    return frame


def _nearest(
    sizes: list[float], codes: list[str], taken: set[str], size: float
) -> tuple[float, str] | None:
    """The untaken candidate nearest ``size`` within the caliper (ties: smaller code), walking
    outwards from where ``size`` would sit in the sorted ``sizes``."""
    limit = math.log(CALIPER)
    best: tuple[float, str] | None = None
    at = bisect.bisect_left(sizes, size)
    # Sizes grow away from ``at`` on both sides: the first untaken one each way is the nearest
    # that way (equal sizes sit to the right, by code, so the smaller code comes first).
    for i, step in ((at, 1), (at - 1, -1)):
        while 0 <= i < len(sizes) and abs(sizes[i] - size) <= limit:
            if codes[i] not in taken:
                found = (abs(sizes[i] - size), codes[i])
                best = found if best is None or found < best else best
                break
            i += step
    return best


def match(movers: pl.DataFrame, pool: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Pairs ``mover, stayer`` (module docstring) and the movers left unmatched. Both frames
    carry ``customer_code, from_segment, volume_before``."""
    taken: set[str] = set()
    pairs: list[tuple[str, str]] = []
    unmatched: list[str] = []
    candidates: dict[str, tuple[list[float], list[str]]] = {}
    for key, group in pool.group_by("from_segment"):
        ordered = group.with_columns(pl.col("volume_before").log1p().alias("size")).sort(
            "size", "customer_code"
        )
        candidates[str(key[0])] = (ordered["size"].to_list(), ordered["customer_code"].to_list())
    for code, segment, volume in movers.sort("customer_code").iter_rows():
        sizes, codes = candidates.get(segment, ([], []))
        best = _nearest(sizes, codes, taken, math.log1p(volume))
        if best is None:
            unmatched.append(code)
            continue
        taken.add(best[1])
        pairs.append((code, best[1]))
    frame = pl.DataFrame(pairs, schema={"mover": pl.String, "stayer": pl.String}, orient="row")
    return frame, unmatched
