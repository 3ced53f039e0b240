"""Demand and lead-time statistics per SKU-location, vectorised over polars frames.

Demand is bucketed into periods of ``period_days`` days over a window of ``periods`` periods;
periods without an order line count as zero demand (they are what makes an item
intermittent). The demand class follows Syntetos, Boylan & Croston (2005), "On the
categorization of demand patterns", *JORS* 56(5): ADI, the average number of periods between
demands, against 1.32, and CV², the squared coefficient of variation of the non-zero demand
sizes, against 0.49.

Lead times are measured per lane (location ← supplier): the SKU-location uses the lane of its
most frequent supplier; without observations of its own, the location's only planned lane, or
else the location's most observed lane (flagged ``lead_time_location_lane``). A lane with fewer
than the minimum number of observations falls back to its planned lead time, with an SD of
``fallback_cv`` × the planned mean (the observations cannot say how variable it is, and 0
would promise a reliability nobody measured); a SKU-location with neither observations nor a
planned lead time is refused (``lead_time_missing``).
"""

from __future__ import annotations

import polars as pl

from tierline.inventory.formulas import Flag

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
# Planned lead times counted in working days become calendar days at 5 working days a week.
WORKING_TO_CALENDAR = 7.0 / 5.0

KEY = ["sku", "location_code"]


def demand_class(adi: pl.Expr, cv2: pl.Expr) -> pl.Expr:
    """smooth / erratic / intermittent / lumpy; "none" without demand. Ties go to the higher
    class (ADI = 1.32 is intermittent), as in the paper's cut-off rule."""
    frequent = adi < ADI_CUTOFF
    stable = cv2 < CV2_CUTOFF
    return (
        pl.when(adi.is_null())
        .then(pl.lit("none"))
        .when(frequent & stable)
        .then(pl.lit("smooth"))
        .when(frequent)
        .then(pl.lit("erratic"))
        .when(stable)
        .then(pl.lit("intermittent"))
        .otherwise(pl.lit("lumpy"))
    )


def demand_statistics(buckets: pl.DataFrame, periods: int) -> pl.DataFrame:
    """Mean, SD, zero periods and class per SKU-location from ``buckets`` (``sku``,
    ``location_code``, ``bucket``, ``quantity``: the demand of one period, only periods with
    demand). SD is the sample SD over all ``periods`` periods, zeros included."""
    n = float(periods)
    per_bucket = buckets.group_by([*KEY, "bucket"]).agg(pl.col("quantity").sum())
    stats = per_bucket.group_by(KEY).agg(
        pl.col("quantity").sum().alias("_sum"),
        (pl.col("quantity") ** 2).sum().alias("_sumsq"),
        (pl.col("quantity") != 0).sum().cast(pl.Int64).alias("_demand_periods"),
    )
    mean = pl.col("_sum") / n
    var = ((pl.col("_sumsq") - n * mean * mean) / max(n - 1.0, 1.0)).clip(lower_bound=0.0)
    nz = pl.col("_demand_periods").cast(pl.Float64)
    size_mean = pl.col("_sum") / nz
    size_var = (pl.col("_sumsq") / nz - size_mean * size_mean).clip(lower_bound=0.0)
    adi = pl.when(nz > 0).then(n / nz).otherwise(None)
    cv2 = pl.when((nz > 0) & (size_mean != 0)).then(size_var / (size_mean * size_mean))
    return stats.with_columns(
        pl.lit(periods, pl.Int32).alias("periods"),
        (periods - pl.col("_demand_periods")).cast(pl.Int32).alias("zero_periods"),
        mean.alias("demand_mean"),
        var.sqrt().alias("demand_sd"),
        adi.alias("adi"),
        cv2.alias("cv2"),
    ).with_columns(demand_class(pl.col("adi"), pl.col("cv2").fill_null(0.0)).alias("demand_class"))


def lane_statistics(observations: pl.DataFrame) -> pl.DataFrame:
    """Count, mean and sample SD of observed lead times (days) per lane from ``observations``
    (``location_code``, ``supplier_code``, ``lead_time_days``)."""
    return (
        observations.filter(pl.col("supplier_code").is_not_null())
        .group_by(["location_code", "supplier_code"])
        .agg(
            pl.len().cast(pl.Int32).alias("lead_time_observations"),
            pl.col("lead_time_days").mean().alias("observed_mean"),
            pl.col("lead_time_days").std(ddof=1).fill_null(0.0).alias("observed_sd"),
        )
    )


def main_supplier(observations: pl.DataFrame) -> pl.DataFrame:
    """The most frequent supplier per SKU-location (ties: the smallest code)."""
    return (
        observations.filter(pl.col("supplier_code").is_not_null())
        .group_by([*KEY, "supplier_code"])
        .agg(pl.len().alias("_n"))
        .sort([*KEY, "_n", "supplier_code"], descending=[False, False, True, False])
        .group_by(KEY, maintain_order=True)
        .first()
        .select([*KEY, "supplier_code"])
    )


def lead_time_statistics(
    sku_locations: pl.DataFrame,
    observations: pl.DataFrame,
    lanes: pl.DataFrame,
    *,
    min_observations: int,
    fallback_cv: float,
    period_days: int,
    default_planned_days: float | None = None,
) -> pl.DataFrame:
    """Lead time mean and SD in periods per SKU-location, with where they came from.

    ``sku_locations``: ``sku``, ``location_code``. ``observations``: ``sku``,
    ``location_code``, ``supplier_code``, ``lead_time_days``. ``lanes``: ``location_code``,
    ``source_code``, ``planned_lead_time_days``, ``calendar`` (``calendar`` or ``working``).
    ``lead_time_source`` is ``observed``, ``planned`` (too few observations or none) or
    ``missing``; a lane without a planned lead time takes ``default_planned_days`` (the
    policy's own, if it has one); ``lead_time_flags`` carries ``LEAD_TIME_PLANNED`` or
    ``LEAD_TIME_MISSING``.
    """
    planned = lanes.select(
        "location_code",
        pl.col("source_code").alias("supplier_code"),
        (
            pl.col("planned_lead_time_days").cast(pl.Float64)
            * pl.when(pl.col("calendar") == "working").then(WORKING_TO_CALENDAR).otherwise(1.0)
        ).alias("planned_days"),
    )
    # A location with one lane only: its SKUs without observations use that lane.
    single = (
        planned.group_by("location_code")
        .agg(pl.len().alias("_lanes"), pl.col("supplier_code").first().alias("_only"))
        .filter(pl.col("_lanes") == 1)
        .select("location_code", "_only")
    )
    # Else the location's most observed lane (flagged: an assumption about the SKU's source).
    usual = (
        observations.filter(pl.col("supplier_code").is_not_null())
        .group_by(["location_code", "supplier_code"])
        .agg(pl.len().alias("_n"))
        .sort(["location_code", "_n", "supplier_code"], descending=[False, True, False])
        .group_by("location_code", maintain_order=True)
        .first()
        .select("location_code", pl.col("supplier_code").alias("_usual"))
    )
    frame = (
        sku_locations.select(KEY)
        .join(main_supplier(observations), on=KEY, how="left")
        .join(single, on="location_code", how="left")
        .join(usual, on="location_code", how="left")
        .with_columns(
            (
                pl.col("supplier_code").is_null()
                & pl.col("_only").is_null()
                & pl.col("_usual").is_not_null()
            ).alias("_assumed"),
            pl.coalesce("supplier_code", "_only", "_usual").alias("supplier_code"),
        )
        .drop("_only", "_usual")
        .join(lane_statistics(observations), on=["location_code", "supplier_code"], how="left")
        .join(planned, on=["location_code", "supplier_code"], how="left")
        .with_columns(
            pl.col("lead_time_observations").fill_null(0),
            pl.col("planned_days").fill_null(pl.lit(default_planned_days, pl.Float64)),
        )
    )
    enough = pl.col("lead_time_observations") >= min_observations
    has_plan = pl.col("planned_days").is_not_null()
    source = (
        pl.when(enough)
        .then(pl.lit("observed"))
        .when(has_plan)
        .then(pl.lit("planned"))
        .otherwise(pl.lit("missing"))
    )
    mean_days = (
        pl.when(enough).then(pl.col("observed_mean")).when(has_plan).then(pl.col("planned_days"))
    )
    sd_days = (
        pl.when(enough)
        .then(pl.col("observed_sd"))
        .when(has_plan)
        .then(pl.col("planned_days") * fallback_cv)
    )
    flags = (
        pl.when(enough)
        .then(0)
        .when(has_plan)
        .then(int(Flag.LEAD_TIME_PLANNED))
        .otherwise(int(Flag.LEAD_TIME_MISSING))
    ) | pl.when(pl.col("_assumed") & (enough | has_plan)).then(
        int(Flag.LEAD_TIME_LOCATION_LANE)
    ).otherwise(0)
    return frame.select(
        *KEY,
        "supplier_code",
        source.alias("lead_time_source"),
        pl.col("lead_time_observations").cast(pl.Int32),
        (mean_days / period_days).alias("lead_time_mean"),
        (sd_days / period_days).alias("lead_time_sd"),
        flags.cast(pl.Int64).alias("lead_time_flags"),
    )
