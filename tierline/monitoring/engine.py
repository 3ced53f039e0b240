"""The KPI engine: order lines in, additive counts per period x customer x product x location
x segment out, and the KPIs of any roll-up of those counts. Pure polars, no Python loop per line.

Three steps, each a plain function over frames:

1. :func:`line_facts` judges every line once under a :class:`KpiDefinition`: delivered, in full,
   on time (the basis date, less the early and plus the late tolerance), damaged, documentation
   right, lead time, due and not filled by the as-of day (backorder), and its data-quality flags.
   Order-level facts (every line of the order in full, on time, perfect …) are computed over the
   order's lines and carried by its *first* line only, so an order is counted once wherever its
   lines fall and every count stays an integer that adds up across any roll-up.
2. :func:`cell_counts` attributes each line to the segment in force on its order date
   (:func:`attribute_segments`; ``unclassified`` when none was) and sums the facts per cell.
3. :func:`kpis` turns summed counts into rates; :func:`attainment` compares them with the
   target in force in the period, exactly (integer cross-multiplication, never a float
   landing at 0.7999999).

Bad lines are never dropped silently: a delivery dated before its order, a delivered quantity
missing, or no basis date leaves the line counted (``lines``) but out of the measures it cannot
be judged on, with a ``dq_*`` count saying why; a delivery above the ordered quantity is in full,
its excess is not credited to the fill rate, and ``dq_over_delivered`` counts it.

Quantities are counted in ten-thousandths of a unit (master data keeps four decimals), so sums
are exact integers.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from tierline.monitoring.definitions import KpiDefinition

Grain = Literal["week", "month"]
GRAINS: tuple[Grain, ...] = ("week", "month")
UNCLASSIFIED = "unclassified"
SCALE = 10_000  # quantity units counted exactly: master data keeps 4 decimals
TARGET_SCALE = 100_000  # entitlement targets are fractions with 5 decimals

CELL_KEYS = ("period_start", "customer_code", "sku", "location_code", "segment")
LINE_COUNTS = (
    "lines",
    "delivered_lines",
    "judged_lines",
    "units_ordered",
    "units_delivered",
    "lines_in_full",
    "lines_on_time",
    "lines_otif",
    "lines_perfect",
    "lead_days_sum",
    "lines_due",
    "lines_backordered",
    "lines_late",
    "lines_short",
    "lines_damaged",
    "lines_doc_errors",
)
ORDER_COUNTS = (
    "orders",
    "orders_delivered",
    "orders_judged",
    "orders_in_full",
    "orders_on_time",
    "orders_otif",
    "orders_undamaged",
    "orders_doc_ok",
    "orders_perfect",
)
DQ_COUNTS = (
    "dq_delivered_before_order",
    "dq_over_delivered",
    "dq_missing_due_date",
    "dq_missing_quantity",
)
COUNTS = LINE_COUNTS + ORDER_COUNTS + DQ_COUNTS
KPIS = (
    "unit_fill_rate",
    "line_fill_rate",
    "order_fill_rate",
    "otif",
    "perfect_order",
    "lead_time_days",
    "backorder_rate",
)
KPI_LABELS = {
    "unit_fill_rate": "Unit fill rate",
    "line_fill_rate": "Line fill rate",
    "order_fill_rate": "Order fill rate",
    "otif": "On time in full",
    "perfect_order": "Perfect order",
    "lead_time_days": "Order-to-delivery lead time (days)",
    "backorder_rate": "Backorder rate",
}
# KPI -> the entitlement field it is measured against; lead time is better when lower.
TARGET_OF = {
    "unit_fill_rate": "fill_rate_target",
    "otif": "otif_target",
    "perfect_order": "perfect_order_target",
    "lead_time_days": "quoted_lead_time_days",
}

LINE_SCHEMA = {
    "order_no": pl.String,
    "line_no": pl.Int64,
    "customer_code": pl.String,
    "sku": pl.String,
    "location_code": pl.String,
    "order_date": pl.Date,
    "requested_date": pl.Date,
    "promised_date": pl.Date,
    "delivered_date": pl.Date,
    "quantity": pl.Float64,
    "delivered_quantity": pl.Float64,
    "damaged": pl.Boolean,
    "documentation_ok": pl.Boolean,
}


def period_start(day: pl.Expr, grain: Grain) -> pl.Expr:
    """The Monday of the ISO week, or the first of the month."""
    return day.dt.truncate("1w" if grain == "week" else "1mo")


def _units(column: str) -> pl.Expr:
    return (pl.col(column) * SCALE).round(0).cast(pl.Int64)


def _line_judgements(definition: KpiDefinition, as_of: date) -> list[list[pl.Expr]]:
    """Per-line facts in stages: a stage uses only the columns of the stages before it."""
    basis = "promised_date" if definition.otif_basis == "promised" else "requested_date"
    due = pl.col(basis)
    delivered_on = pl.col("delivered_date")
    got = pl.col("delivered_quantity")
    has_delivery = delivered_on.is_not_null()
    before_order = has_delivery & (delivered_on < pl.col("order_date"))
    latest = due + pl.duration(days=definition.late_days)
    if definition.early_days is None:
        earliest = pl.lit(None, pl.Date)  # early is never too early
    else:
        earliest = due - pl.duration(days=definition.early_days)
    return [
        [
            pl.lit(1, pl.Int64).alias("lines"),
            before_order.alias("dq_delivered_before_order"),
            (has_delivery & got.is_null()).alias("dq_missing_quantity"),
            (has_delivery & (got > pl.col("quantity"))).alias("dq_over_delivered"),
            due.is_null().alias("dq_missing_due_date"),
            (has_delivery & ~before_order & got.is_not_null()).alias("delivered"),
            due.alias("_due"),
            latest.alias("_latest"),
            earliest.alias("_earliest"),
        ],
        [
            (pl.col("delivered") & (got >= pl.col("quantity"))).alias("in_full"),
            (pl.col("delivered") & due.is_not_null()).alias("judged"),
        ],
        [
            (
                pl.col("judged")
                & (delivered_on >= pl.col("_earliest")).fill_null(True)
                & (delivered_on <= latest)
            ).alias("on_time"),
            (pl.col("delivered") & ~pl.col("damaged")).alias("undamaged"),
            (pl.col("delivered") & pl.col("documentation_ok")).alias("doc_ok"),
            # due (tolerance included) before the as-of day, and not filled in full by then
            (latest.is_not_null() & (latest < pl.lit(as_of))).alias("due"),
        ],
        [
            (pl.col("on_time") & pl.col("in_full")).alias("otif"),
            (
                pl.col("due")
                & ~(pl.col("in_full") & (delivered_on <= pl.col("_latest")).fill_null(False))
            ).alias("backordered"),
        ],
        [
            (pl.col("otif") & pl.col("undamaged") & pl.col("doc_ok")).alias("perfect"),
        ],
    ]


ORDER_FLAGS = {
    "orders_delivered": "delivered",
    "orders_judged": "judged",
    "orders_in_full": "in_full",
    "orders_on_time": "on_time",
    "orders_otif": "otif",
    "orders_undamaged": "undamaged",
    "orders_doc_ok": "doc_ok",
    "orders_perfect": "perfect",
}


def line_facts(lines: pl.DataFrame, definition: KpiDefinition, as_of: date) -> pl.DataFrame:
    """Every line judged once (its own facts; the order's are summed in ``cell_counts``)."""
    frame = lines.with_columns(
        pl.col("damaged").fill_null(False),
        pl.col("documentation_ok").fill_null(True),
        pl.col("location_code").fill_null(""),
    )
    for stage in _line_judgements(definition, as_of):
        frame = frame.with_columns(stage)
    return frame.with_columns(
        pl.when(pl.col("delivered")).then(_units("quantity")).otherwise(0).alias("units_ordered"),
        pl.when(pl.col("delivered"))
        .then(pl.min_horizontal(_units("delivered_quantity"), _units("quantity")))
        .otherwise(0)
        .alias("units_delivered"),
        pl.when(pl.col("delivered"))
        .then((pl.col("delivered_date") - pl.col("order_date")).dt.total_days())
        .otherwise(0)
        .alias("lead_days_sum"),
        pl.col("delivered").alias("delivered_lines"),
        pl.col("judged").alias("judged_lines"),
        pl.col("in_full").alias("lines_in_full"),
        pl.col("on_time").alias("lines_on_time"),
        pl.col("otif").alias("lines_otif"),
        pl.col("perfect").alias("lines_perfect"),
        pl.col("due").alias("lines_due"),
        pl.col("backordered").alias("lines_backordered"),
        (pl.col("judged") & (pl.col("delivered_date") > pl.col("_latest"))).alias("lines_late"),
        (pl.col("delivered") & ~pl.col("in_full")).alias("lines_short"),
        (pl.col("delivered") & ~pl.col("undamaged")).alias("lines_damaged"),
        (pl.col("delivered") & ~pl.col("doc_ok")).alias("lines_doc_errors"),
    )


def attribute_segments(lines: pl.DataFrame, assignments: pl.DataFrame) -> pl.DataFrame:
    """Each line with ``segment``: the customer's segment in force on the order date
    (``valid_from <= order_date < valid_to``, the latest start when two overlap), else
    ``unclassified``. ``assignments``: customer_code, segment, valid_from, valid_to (dates).

    An equi-join on the customer (a customer has a handful of spans) filtered to the span in
    force, joined back by row number: no sort of the lines by a text key."""
    if assignments.is_empty() or lines.is_empty():
        return lines.with_columns(pl.lit(UNCLASSIFIED).alias("segment"))
    spans = assignments.select(
        "customer_code",
        pl.col("segment").alias("_segment"),
        pl.col("valid_from").cast(pl.Date).alias("_valid_from"),
        pl.col("valid_to").cast(pl.Date).alias("_valid_to"),
    )
    indexed = lines.with_row_index("_row")
    in_force = (pl.col("_valid_from") <= pl.col("order_date")) & (
        pl.col("_valid_to").is_null() | (pl.col("order_date") < pl.col("_valid_to"))
    )
    found = (
        indexed.select("_row", "customer_code", "order_date")
        .join(spans, on="customer_code", how="inner")
        .filter(in_force)
    )
    if found.height > found["_row"].n_unique():  # overlapping spans (never written so)
        found = found.sort("_valid_from").unique("_row", keep="last")
    return (
        indexed.join(found.select("_row", "_segment"), on="_row", how="left")
        .sort("_row")
        .with_columns(pl.col("_segment").fill_null(UNCLASSIFIED).alias("segment"))
        .drop("_row", "_segment")
    )


def cell_counts(
    lines: pl.DataFrame,
    assignments: pl.DataFrame,
    definition: KpiDefinition,
    grain: Grain,
    as_of: date,
) -> pl.DataFrame:
    """The additive counts per period x customer x product x location x segment (unsorted)."""
    return cell_counts_by_grain(lines, assignments, definition, (grain,), as_of)[grain]


def cell_counts_by_grain(
    lines: pl.DataFrame,
    assignments: pl.DataFrame,
    definition: KpiDefinition,
    grains: tuple[Grain, ...],
    as_of: date,
) -> dict[Grain, pl.DataFrame]:
    """``cell_counts`` for several grains, judging the lines and their orders once.

    Each order's facts (every line in full, on time ...) are taken over all of its lines in one
    group-by and written onto its first line (the lowest line number) by position, so one
    group-by over the lines sums line and order counts alike: an order is counted once, and
    order counts are integers that add up in any roll-up. The text keys are grouped as
    categoricals (hashed once), not compared as strings."""
    facts = attribute_segments(line_facts(lines, definition, as_of), assignments)
    if facts.is_empty():
        return {grain: empty_counts() for grain in grains}
    facts = facts.with_row_index("_row")
    orders = facts.group_by("order_no").agg(
        pl.col("_row").get(pl.col("line_no").arg_min()).alias("_lead"),
        *[pl.col(col).all().alias(name) for name, col in ORDER_FLAGS.items()],
    )
    lead = orders["_lead"].to_numpy()
    columns = {"orders": np.zeros(facts.height, dtype=np.int64)}
    columns["orders"][lead] = 1
    for name in ORDER_FLAGS:
        values = np.zeros(facts.height, dtype=np.int64)
        values[lead] = orders[name].to_numpy().astype(np.int64)
        columns[name] = values
    text_keys = [k for k in CELL_KEYS if k != "period_start"]
    facts = facts.select(
        *[pl.col(k).cast(pl.Categorical) for k in text_keys],
        "order_date",
        *[pl.col(c).cast(pl.Int64) for c in LINE_COUNTS + DQ_COUNTS],
    ).with_columns(pl.Series(name, values) for name, values in columns.items())
    out: dict[Grain, pl.DataFrame] = {}
    for grain in grains:
        out[grain] = (
            facts.with_columns(period_start(pl.col("order_date"), grain).alias("period_start"))
            .group_by(CELL_KEYS)
            .agg(*[pl.col(c).sum() for c in COUNTS])
            .with_columns(pl.col(k).cast(pl.String) for k in text_keys)
            .select(*CELL_KEYS, *COUNTS)
        )
    return out


def empty_counts() -> pl.DataFrame:
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "period_start": pl.Date,
        "customer_code": pl.String,
        "sku": pl.String,
        "location_code": pl.String,
        "segment": pl.String,
    }
    schema.update({c: pl.Int64 for c in COUNTS})
    return pl.DataFrame(schema=schema)


def roll_up(counts: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Counts summed over everything but ``by`` (exact: integers add)."""
    if not by:
        return counts.select([pl.col(c).sum() for c in COUNTS])
    return counts.group_by(by).agg([pl.col(c).sum() for c in COUNTS]).sort(by)


def _rate(numerator: str, denominator: str) -> pl.Expr:
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator) / pl.col(denominator))
        .otherwise(None)
    )


def kpi_expressions(definition: KpiDefinition) -> dict[str, pl.Expr]:
    """Each KPI as an expression over summed counts (None where nothing was measurable)."""
    if definition.otif_level == "line":
        otif = _rate("lines_otif", "judged_lines")
    else:
        otif = _rate("orders_otif", "orders_judged")
    if definition.perfect_order == "order":
        perfect = _rate("orders_perfect", "orders_judged")
    else:
        perfect = (
            _rate("orders_on_time", "orders_judged")
            * _rate("orders_in_full", "orders_delivered")
            * _rate("orders_undamaged", "orders_delivered")
            * _rate("orders_doc_ok", "orders_delivered")
        )
    return {
        "unit_fill_rate": _rate("units_delivered", "units_ordered"),
        "line_fill_rate": _rate("lines_in_full", "delivered_lines"),
        "order_fill_rate": _rate("orders_in_full", "orders_delivered"),
        "otif": otif,
        "perfect_order": perfect,
        "lead_time_days": _rate("lead_days_sum", "delivered_lines"),
        "backorder_rate": _rate("lines_backordered", "lines_due"),
    }


def kpis(counts: pl.DataFrame, definition: KpiDefinition) -> pl.DataFrame:
    """``counts`` with a column per KPI."""
    return counts.with_columns(
        [expr.alias(name) for name, expr in kpi_expressions(definition).items()]
    )


def _fraction_pair(kpi: str, definition: KpiDefinition) -> tuple[str, str] | None:
    """The (numerator, denominator) counts of a rate KPI, for exact comparison."""
    pairs = {
        "unit_fill_rate": ("units_delivered", "units_ordered"),
        "otif": ("lines_otif", "judged_lines")
        if definition.otif_level == "line"
        else ("orders_otif", "orders_judged"),
        "perfect_order": ("orders_perfect", "orders_judged"),
    }
    if kpi == "perfect_order" and definition.perfect_order == "product":
        return None
    return pairs.get(kpi)


def targets_by_period(versions: pl.DataFrame, periods: list[date], grain: Grain) -> pl.DataFrame:
    """The entitlement in force in each period per segment: the version in force on the
    period's last day (a period is judged by the promise in force when it closes).
    ``versions``: segment, effective_from, effective_to and the target columns."""
    if versions.is_empty() or not periods:
        return pl.DataFrame(
            schema={"segment": pl.String, "period_start": pl.Date, **_TARGET_SCHEMA}
        )
    starts = pl.DataFrame({"period_start": sorted(set(periods))}, schema={"period_start": pl.Date})
    step = "1w" if grain == "week" else "1mo"
    starts = starts.with_columns(
        (pl.col("period_start").dt.offset_by(step) - pl.duration(days=1)).alias("_last")
    )
    pairs = starts.join(versions, how="cross").filter(
        (pl.col("effective_from") <= pl.col("_last"))
        & (pl.col("effective_to").is_null() | (pl.col("effective_to") > pl.col("_last")))
    )
    return (
        pairs.sort("effective_from")
        .group_by("segment", "period_start", maintain_order=True)
        .last()
        .select("segment", "period_start", *_TARGET_SCHEMA)
        .with_columns([pl.col(c).cast(t) for c, t in _TARGET_SCHEMA.items()])
    )


_TARGET_SCHEMA: dict[str, type[pl.DataType]] = {
    "fill_rate_target": pl.Int64,  # fractions in hundred-thousandths (exact)
    "otif_target": pl.Int64,
    "perfect_order_target": pl.Int64,
    "quoted_lead_time_days": pl.Int64,
}


def attainment(
    counts: pl.DataFrame, targets: pl.DataFrame, definition: KpiDefinition
) -> pl.DataFrame:
    """Per row of ``counts`` (summed by segment and period at least) each targeted KPI's value,
    its target (a fraction, days for lead time) and ``<kpi>_met``: decided exactly on the
    integer counts. Rows without a target in force have null targets and null ``_met``."""
    frame = kpis(counts, definition).join(targets, on=["segment", "period_start"], how="left")
    out: list[pl.Expr] = []
    for kpi, target in TARGET_OF.items():
        if kpi == "lead_time_days":
            met = pl.col("lead_days_sum") <= pl.col(target) * pl.col("delivered_lines")
            measured = pl.col("delivered_lines") > 0
            shown = pl.col(target).cast(pl.Float64)
        else:
            pair = _fraction_pair(kpi, definition)
            shown = (pl.col(target) / TARGET_SCALE).round(5)  # 5 decimals as stored
            if pair is None:
                met = pl.col(kpi) >= shown - 1e-12  # a product of rates has no exact form
                measured = pl.col(kpi).is_not_null()
            else:
                num, den = pair
                met = pl.col(num) * TARGET_SCALE >= pl.col(target) * pl.col(den)
                measured = pl.col(den) > 0
        out.append(shown.alias(f"{kpi}_target"))
        out.append(
            pl.when(measured & pl.col(target).is_not_null())
            .then(met)
            .otherwise(None)
            .alias(f"{kpi}_met")
        )
    return frame.with_columns(out)


def empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=LINE_SCHEMA)
