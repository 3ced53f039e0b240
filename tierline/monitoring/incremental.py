"""Which periods a batch of order lines touches, and how recomputing only them keeps the stored
counts equal to a full recomputation (pure; the store runs the same steps in SQL + polars).

An order's facts (in full, on time, perfect …) depend on all of its lines, and an order is
counted on its first line's cell; so a changed line touches its own period *and* every period
another line of its order falls in. Recomputing a touched period reads every line of every
order that has a line there, then keeps only the cells of the touched periods.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from tierline.monitoring.engine import Grain, period_start

ORDER_KEY = ["order_no"]  # as in master data: lines are keyed (order_no, line_no)


def touched_periods(changed: pl.DataFrame, lines: pl.DataFrame, grain: Grain) -> list[date]:
    """Periods to recompute after ``changed`` lines (customer_code, order_no, order_date)
    were written into ``lines`` (which already holds them)."""
    orders = changed.select(ORDER_KEY).unique()
    of_orders = lines.join(orders, on=ORDER_KEY, how="semi").select("order_date")
    days = pl.concat([changed.select("order_date"), of_orders])
    found = days.select(period_start(pl.col("order_date"), grain).alias("p")).unique()
    return sorted(found["p"].to_list())


def lines_for_periods(lines: pl.DataFrame, periods: list[date], grain: Grain) -> pl.DataFrame:
    """Every line of every order that has a line in ``periods``."""
    starts = pl.Series("p", periods, dtype=pl.Date)
    in_periods = lines.filter(period_start(pl.col("order_date"), grain).is_in(starts.implode()))
    orders = in_periods.select(ORDER_KEY).unique()
    return lines.join(orders, on=ORDER_KEY, how="semi")


def replace_periods(stored: pl.DataFrame, fresh: pl.DataFrame, periods: list[date]) -> pl.DataFrame:
    """``stored`` cells with the ``periods`` replaced by ``fresh``'s cells of those periods."""
    starts = pl.Series("p", periods, dtype=pl.Date).implode()
    kept = stored.filter(~pl.col("period_start").is_in(starts))
    new = fresh.filter(pl.col("period_start").is_in(starts)).select(stored.columns)
    return pl.concat([kept, new]).sort(stored.columns[:5])
