"""Per-entity measures from order history, the input of classification.

The window is ``(as_of - window.months, as_of]``. It is cut into buckets aligned on the as-of
date, so every bucket but the oldest is full: months end on the as-of day of each month
(clamped to month end); weeks are the 7-day spans ending on as_of, and the 0-6 days left over
join the oldest week. Buckets without orders count as zero demand; with
``variability.since: first_order`` only the buckets from an entity's first order on count.

Zero and negative demand: ``cv`` (population std / mean of quantity per bucket) is null when
the mean is not positive; ``max_period_share`` (largest bucket's share of the ABC driver) is 0
when the driver total is not positive; ``margin_pct`` is null when revenue is 0 or unknown.
``revenue``/``margin`` are null when the column was not loaded or every value is null.
Volume, revenue and margin are summed exactly in units of 1/10,000 (:data:`EXACT_UNITS`).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import polars as pl

from tierline.segmentation.schemes.conditions import referenced_attributes
from tierline.segmentation.schemes.model import Rule, Scheme

EXACT_UNITS = 10_000  # measures are summed, and ABC compares them, in units of 1/10,000
FIRST_ORDER = "first_order"  # entities' column: the first order date (``since: first_order``)
ORDER_KEYS = {"customer_code", "sku", "order_no", "order_date", "quantity"}
MEASURE_COLUMNS = (
    "volume",
    "revenue",
    "margin",
    "margin_pct",
    "order_count",
    "order_lines",
    "cv",
    "max_period_share",
)


def months_before(day: date, months: int) -> date:
    """``day`` shifted back by whole months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def bucket_bounds(scheme: Scheme, as_of: date) -> list[date]:
    """Ascending bucket edges ``b0 < ... < bn``; bucket i holds dates in ``(b_i, b_i+1]``."""
    months = scheme.window.months
    start = months_before(as_of, months)
    if scheme.variability.bucket == "month":
        return [months_before(as_of, k) for k in range(months, -1, -1)]
    weeks = max(1, (as_of - start).days // 7)
    return [start, *(as_of - timedelta(days=7 * k) for k in range(weeks - 1, -1, -1))]


def required_order_columns(scheme: Scheme) -> set[str]:
    """Order columns the features need: revenue/margin only when something uses them."""
    used = _used_measures(scheme) | {scheme.classifiers.abc.driver}
    needed = set(ORDER_KEYS)
    if used & {"revenue", "margin_pct"}:
        needed.add("revenue")
    if used & {"margin", "margin_pct"}:
        needed.add("margin")
    return needed


def _used_measures(scheme: Scheme) -> set[str]:
    names: set[str] = set(scheme.defaults)

    def visit(rules: list[Rule]) -> None:
        for rule in rules:
            if rule.when is not None:
                names.update(referenced_attributes(rule.when))
            visit(rule.then or [])

    visit(scheme.tree)
    for rules in scheme.subtrees.values():
        visit(rules)
    return names


def entity_keys(scheme: Scheme) -> list[str]:
    """Key columns of the entities frame besides ``entity_key``."""
    return ["customer_code", "sku"] if scheme.entity == "customer_product" else []


def _order_entity_key(scheme: Scheme) -> pl.Expr:
    if scheme.entity == "customer":
        return pl.col("customer_code")
    if scheme.entity == "product":
        return pl.col("sku")
    return pl.concat_str(pl.col("customer_code"), pl.lit("|"), pl.col("sku"))


def compute_features(
    scheme: Scheme, orders: pl.DataFrame, entities: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """One row per entity of ``entities``: key columns, measures, then attribute columns."""
    entities = _with_entity_key(scheme, entities)
    bounds = bucket_bounds(scheme, as_of)
    lines = _window_lines(scheme, orders, bounds)
    driver = scheme.classifiers.abc.driver
    per_bucket = lines.group_by("entity_key", "bucket").agg(
        pl.col("quantity").sum().alias("q"),
        pl.col(driver if driver != "volume" else "quantity").sum().alias("d"),
    )
    per_bucket = per_bucket.join(
        _spans(scheme, lines, entities, bounds), on="entity_key", how="left"
    )
    span = pl.col("span").first()
    mean = pl.col("q").sum() / span
    variability = per_bucket.group_by("entity_key").agg(
        # population variance over the entity's buckets: the empty ones add (0 - mean)^2 each
        (((pl.col("q") - mean) ** 2).sum() + (span - pl.len()) * mean**2).alias("ss"),
        mean.alias("mean"),
        span.alias("span"),
        pl.col("d").max().alias("d_max"),
        pl.col("d").sum().alias("d_sum"),
    )
    totals = lines.group_by("entity_key").agg(
        _exact_sum("quantity").alias("volume"),
        _null_safe_sum("revenue"),
        _null_safe_sum("margin"),
        pl.col("order_no").n_unique().alias("order_count"),
        pl.len().alias("order_lines"),
    )
    measures = totals.join(variability, on="entity_key", how="left").select(
        "entity_key",
        "volume",
        "revenue",
        "margin",
        pl.when(pl.col("revenue") != 0)
        .then(pl.col("margin") / pl.col("revenue"))
        .alias("margin_pct"),
        "order_count",
        "order_lines",
        pl.when(pl.col("mean") > 0)
        .then((pl.col("ss") / pl.col("span")).clip(lower_bound=0).sqrt() / pl.col("mean"))
        .alias("cv"),
        pl.when(pl.col("d_sum") > 0)
        .then(pl.col("d_max") / pl.col("d_sum"))
        .otherwise(0.0)
        .alias("max_period_share"),
    )
    loaded: set[str] = {c for c in ("revenue", "margin") if c in orders.columns}
    return _attach(scheme, entities.drop(FIRST_ORDER, strict=False), measures, loaded)


def _spans(
    scheme: Scheme, lines: pl.DataFrame, entities: pl.DataFrame, bounds: list[date]
) -> pl.DataFrame:
    """``entity_key, span``: how many buckets (the newest ones) an entity's variability is
    measured over. ``since: window``: every bucket. ``since: first_order``: from the bucket of
    its first order -- the ``first_order`` date of ``entities`` when loaded (an order before
    the window means every bucket), else its first order inside the window."""
    buckets = len(bounds) - 1
    keys = lines.select("entity_key").unique()
    if scheme.variability.since == "window":
        return keys.with_columns(pl.lit(buckets, pl.Int64).alias("span"))
    first = lines.group_by("entity_key").agg(pl.col("bucket").min().alias("first_bucket"))
    if FIRST_ORDER in entities.columns:
        edges = pl.lit(pl.Series(bounds, dtype=pl.Date))
        known = (
            _with_entity_key(scheme, entities)
            .select(
                "entity_key",
                (edges.search_sorted(pl.col(FIRST_ORDER), side="left").cast(pl.Int64) - 1)
                .clip(lower_bound=0)
                .alias("known"),
            )
            .filter(pl.col("known").is_not_null())
            .unique("entity_key", keep="first")
        )
        first = first.join(known, on="entity_key", how="left").select(
            "entity_key",
            pl.min_horizontal(pl.col("first_bucket").cast(pl.Int64), "known").alias("first_bucket"),
        )
    return first.select(
        "entity_key", (buckets - pl.col("first_bucket")).cast(pl.Int64).alias("span")
    )


def _with_entity_key(scheme: Scheme, entities: pl.DataFrame) -> pl.DataFrame:
    if scheme.entity == "customer_product":
        key = pl.concat_str(pl.col("customer_code"), pl.lit("|"), pl.col("sku"))
        return entities.with_columns(key.alias("entity_key"))
    return entities


def _window_lines(scheme: Scheme, orders: pl.DataFrame, bounds: list[date]) -> pl.DataFrame:
    """Order lines inside the window, keyed by entity and bucket index."""
    present = [c for c in ("revenue", "margin") if c in orders.columns]
    missing = [pl.lit(None, pl.Float64).alias(c) for c in ("revenue", "margin") if c not in present]
    edges = pl.lit(pl.Series(bounds, dtype=pl.Date))
    inside = orders.lazy().filter(
        (pl.col("order_date") > bounds[0]) & (pl.col("order_date") <= bounds[-1])
    )
    return inside.select(
        _order_entity_key(scheme).alias("entity_key"),
        "order_no",
        pl.col("quantity").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64) for c in present],
        *missing,
        (edges.search_sorted(pl.col("order_date"), side="left") - 1).alias("bucket"),
    ).collect()


def _exact_sum(column: str) -> pl.Expr:
    """Sum in whole units of 1/10,000 (the scale of stored quantities; money to a hundredth of
    a cent), so 0.1 + 0.2 is 0.3 and an entity's total is the float nearest the exact sum
    whatever the order of its lines."""
    units = (pl.col(column) * EXACT_UNITS).round(0).cast(pl.Int128)
    return units.sum().cast(pl.Float64) / EXACT_UNITS


def _null_safe_sum(column: str) -> pl.Expr:
    """Exact sum ignoring nulls; null (unknown), not 0, when no value is known."""
    known = pl.col(column).count() > 0
    return pl.when(known).then(_exact_sum(column)).alias(column)


def _attach(
    scheme: Scheme, entities: pl.DataFrame, measures: pl.DataFrame, loaded: set[str]
) -> pl.DataFrame:
    """Every listed entity once, zero measures when it had no orders; unlisted ones dropped."""
    keys = ["entity_key", *entity_keys(scheme)]
    attributes = [c for c in entities.columns if c not in keys and c not in MEASURE_COLUMNS]
    joined = entities.unique("entity_key", keep="first", maintain_order=True).join(
        measures, on="entity_key", how="left"
    )
    no_orders = pl.col("order_lines").is_null()
    return joined.select(
        *keys,
        pl.col("volume").fill_null(0.0),
        *[_money(c, no_orders) if c in loaded else pl.col(c) for c in ("revenue", "margin")],
        "margin_pct",
        pl.col("order_count").fill_null(0).cast(pl.Int64),
        pl.col("order_lines").fill_null(0).cast(pl.Int64),
        "cv",
        pl.col("max_period_share").fill_null(0.0),
        *attributes,
    )


def _money(column: str, no_orders: pl.Expr) -> pl.Expr:
    """A loaded money column: zero for entities without orders in the window."""
    return pl.when(no_orders).then(pl.lit(0.0)).otherwise(pl.col(column)).alias(column)
