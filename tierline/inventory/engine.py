"""From statistics and a policy document to one result row per SKU-location (pure).

The run and the calculator both end in :func:`compute_results`: the statistics frame gets its
segment and target (:func:`assign_segments`), the segment's policy parameters are joined in
as columns, and :func:`formulas.compute_policy` does the maths over whole columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import polars as pl

from tierline.inventory.document import (
    MEASURE_CODES,
    POLICY_TYPE_CODES,
    PolicyDocument,
    SegmentPolicy,
)
from tierline.inventory.formulas import Distribution, Flag, PolicyInputs, compute_policy

ENGINE_VERSION = "1"
KEY = ["sku", "location_code"]
WEIGHTS = pl.List(pl.Struct({"segment": pl.String, "share": pl.Float64}))
INTERMITTENT = ("intermittent", "lumpy")
DAYS_A_YEAR = 365.0

# The results table's columns, in order (the run COPYs them, the service reads them back).
RESULT_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "sku": pl.String,
    "location_code": pl.String,
    "segment_code": pl.String,
    "target_rule": pl.String,
    "policy_type": pl.String,
    "service_measure": pl.String,
    "service_target": pl.Float64,
    "base_uom": pl.String,
    "demand_class": pl.String,
    "distribution": pl.String,
    "periods": pl.Int32,
    "zero_periods": pl.Int32,
    "demand_mean": pl.Float64,
    "demand_sd": pl.Float64,
    "lead_time_mean": pl.Float64,
    "lead_time_sd": pl.Float64,
    "lead_time_source": pl.String,
    "lead_time_observations": pl.Int32,
    "review_period": pl.Float64,
    "order_quantity": pl.Float64,
    "sigma": pl.Float64,
    "k": pl.Float64,
    "safety_stock": pl.Float64,
    "reorder_point": pl.Float64,
    "order_up_to": pl.Float64,
    "expected_fill_rate": pl.Float64,
    "expected_cycle_service_level": pl.Float64,
    "expected_on_hand": pl.Float64,
    "demand_share": pl.Float64,
    "lead_time_share": pl.Float64,
    "flags": pl.Int32,
}


def assign_segments(
    sku_locations: pl.DataFrame,
    doc: PolicyDocument,
    product_segments: pl.DataFrame,
    customer_demand: pl.DataFrame,
    segment_rank: Mapping[str, int],
) -> pl.DataFrame:
    """``sku``, ``location_code``, ``segment_code`` and, for the demand-weighted rule,
    ``segment_weights`` (a list of {segment, share}) per SKU-location.

    ``product_segments``: ``sku``, ``segment``. ``customer_demand``: ``sku``,
    ``location_code``, ``segment`` (the customer's), ``quantity``. ``segment_rank``: 0 for
    the highest segment. A SKU-location without any segment gets null (the default policy).
    """
    base = sku_locations.select(KEY)
    if doc.target_rule == "product_segment":
        return base.join(
            product_segments.select("sku", pl.col("segment").alias("segment_code")),
            on="sku",
            how="left",
        ).with_columns(
            pl.lit(None, pl.List(pl.Struct({"segment": pl.String, "share": pl.Float64}))).alias(
                "segment_weights"
            )
        )
    ranks = pl.DataFrame(
        {"segment": list(segment_rank), "_rank": list(segment_rank.values())},
        schema={"segment": pl.String, "_rank": pl.Int32},
    )
    shares = (
        customer_demand.filter(pl.col("segment").is_not_null() & (pl.col("quantity") > 0))
        .group_by([*KEY, "segment"])
        .agg(pl.col("quantity").sum())
        .with_columns((pl.col("quantity") / pl.col("quantity").sum().over(KEY)).alias("share"))
        .join(ranks, on="segment", how="left")
        .with_columns(pl.col("_rank").fill_null(1 << 20))
    )
    if doc.target_rule == "highest_customer_segment":
        material = shares.filter(pl.col("share") >= doc.material_share)
        chosen = material.sort([*KEY, "_rank"]).group_by(KEY, maintain_order=True).first()
    else:
        # the largest share; on a tie, the higher segment
        chosen = shares.sort([*KEY, "share", "_rank"], descending=[False, False, False, True])
        chosen = chosen.group_by(KEY, maintain_order=True).last()
    weights = shares.group_by(KEY).agg(
        pl.struct(pl.col("segment"), pl.col("share")).alias("segment_weights")
    )
    out = base.join(
        chosen.select(*KEY, pl.col("segment").alias("segment_code")), on=KEY, how="left"
    )
    if doc.target_rule == "demand_weighted":
        return out.join(weights, on=KEY, how="left")
    return out.with_columns(pl.lit(None, WEIGHTS).alias("segment_weights"))


def _segment_table(doc: PolicyDocument, targets: Mapping[str, Mapping[str, float]]) -> pl.DataFrame:
    """One row per segment of the document (and ``None`` for the default) with its numbers."""

    def row(code: str | None, seg: SegmentPolicy) -> dict[str, object]:
        measure_target = seg.target
        if measure_target is None and code is not None:
            measure_target = targets.get(code, {}).get(seg.service_measure)
        q = seg.order_quantity
        return {
            "segment_code": code,
            "_policy": seg.policy_type,
            "_measure": seg.service_measure,
            "_target": measure_target,
            "_fixed_target": seg.target is not None,
            "_review_days": seg.review_period_days if seg.policy_type != "s_q" else 0.0,
            "_q_rule": q.rule,
            "_q_units": q.units,
            "_q_days": q.days,
            "_q_order_cost": q.order_cost,
            "_q_holding": q.holding_cost_per_unit_year,
            "_q_min": q.minimum_units,
            "_floor_units": seg.floor_units,
            "_floor_days": seg.floor_days,
            "_cap_units": seg.cap_units,
            "_cap_days": seg.cap_days,
        }

    rows = [row(s.segment, s) for s in doc.segments]
    schema = {
        "segment_code": pl.String,
        "_policy": pl.String,
        "_measure": pl.String,
        "_target": pl.Float64,
        "_fixed_target": pl.Boolean,
        "_review_days": pl.Float64,
        "_q_rule": pl.String,
        "_q_units": pl.Float64,
        "_q_days": pl.Float64,
        "_q_order_cost": pl.Float64,
        "_q_holding": pl.Float64,
        "_q_min": pl.Float64,
        "_floor_units": pl.Float64,
        "_floor_days": pl.Float64,
        "_cap_units": pl.Float64,
        "_cap_days": pl.Float64,
    }
    table = pl.DataFrame(rows, schema=schema, orient="row")
    if doc.default is not None:
        default = pl.DataFrame([row(None, doc.default)], schema=schema, orient="row")
        table = pl.concat([table, default.with_columns(pl.lit("\x00").alias("segment_code"))])
    return table


def _weighted_target(frame: pl.DataFrame, targets: Mapping[str, Mapping[str, float]]) -> pl.Series:
    """Σ share × target of each customer segment, for the row's measure (segments without a
    target are left out and the shares renormalised)."""
    table = pl.DataFrame(
        [
            {"segment": s, "_measure": m, "_t": float(v)}
            for s, by in targets.items()
            for m, v in by.items()
        ],
        schema={"segment": pl.String, "_measure": pl.String, "_t": pl.Float64},
    )
    exploded = (
        frame.select(*KEY, "_measure", "segment_weights")
        .explode("segment_weights")
        .unnest("segment_weights")
        .join(table, on=["segment", "_measure"], how="inner")
        .group_by(KEY)
        .agg(((pl.col("share") * pl.col("_t")).sum() / pl.col("share").sum()).alias("_wt"))
    )
    return frame.select(KEY).join(exploded, on=KEY, how="left")["_wt"]


def compute_results(
    statistics: pl.DataFrame,
    segments: pl.DataFrame,
    doc: PolicyDocument,
    targets: Mapping[str, Mapping[str, float]],
) -> pl.DataFrame:
    """The results frame (:data:`RESULT_COLUMNS`) for every row of ``statistics``.

    ``statistics``: per SKU-location ``base_uom``, ``periods``, ``zero_periods``,
    ``demand_mean``, ``demand_sd`` (per period), ``demand_class``, ``lead_time_mean``,
    ``lead_time_sd`` (periods), ``lead_time_source``, ``lead_time_observations`` and
    ``flags`` found so far. ``segments``: from :func:`assign_segments`. ``targets``:
    segment → {``cycle_service_level``, ``fill_rate``} in force.
    """
    table = _segment_table(doc, targets)
    frame = (
        statistics.join(segments, on=KEY, how="left")
        .with_columns(
            pl.when(pl.col("segment_code").is_in(table["segment_code"].implode()))
            .then(pl.col("segment_code"))
            .otherwise(pl.lit("\x00"))
            .alias("_policy_key")
        )
        .join(table.rename({"segment_code": "_policy_key"}), on="_policy_key", how="left")
    )
    if doc.target_rule == "demand_weighted" and frame.height:
        weighted = _weighted_target(frame, targets)
        frame = frame.with_columns(
            pl.when(pl.col("_fixed_target").fill_null(False))
            .then(pl.col("_target"))
            .otherwise(pl.coalesce(weighted, pl.col("_target")))
            .alias("_target")
        )
    return _numbers(frame, doc)


def _order_quantity(frame: pl.DataFrame, period_days: int) -> pl.Expr:
    d_day = pl.col("demand_mean") / period_days
    annual = d_day * DAYS_A_YEAR
    eoq = (2.0 * annual * pl.col("_q_order_cost") / pl.col("_q_holding")).sqrt()
    q = (
        pl.when(pl.col("_q_rule") == "units")
        .then(pl.col("_q_units"))
        .when(pl.col("_q_rule") == "days_of_demand")
        .then(d_day * pl.col("_q_days"))
        .otherwise(eoq)
    )
    return (
        pl.when(pl.col("_policy") == "r_s")
        .then(None)
        .otherwise(pl.max_horizontal(q, pl.col("_q_min")))
    )


def _codes(series: pl.Series, codes: Mapping[str, int]) -> np.ndarray:
    return series.replace_strict(dict(codes), return_dtype=pl.Int8).to_numpy()


def _numbers(frame: pl.DataFrame, doc: PolicyDocument) -> pl.DataFrame:
    p = float(doc.period_days)
    no_policy = pl.col("_policy").is_null() & (pl.col("demand_mean") != 0)
    frame = frame.with_columns(
        _order_quantity(frame, doc.period_days).alias("order_quantity"),
        (pl.col("_review_days").fill_null(0.0) / p).alias("_review"),
        (
            pl.col("flags").fill_null(0) | pl.when(no_policy).then(int(Flag.NO_POLICY)).otherwise(0)
        ).alias("flags"),
        pl.col("_policy").fill_null("s_q"),
        pl.col("_measure").fill_null("cycle_service_level"),
    )
    gamma = frame["demand_class"].is_in(list(INTERMITTENT)).to_numpy() & (
        doc.intermittent_distribution == "gamma"
    )

    def col(name: str, fill: float = np.nan) -> np.ndarray:
        return frame[name].cast(pl.Float64).fill_null(fill).to_numpy()

    inputs = PolicyInputs(
        policy_type=frame["_policy"]
        .replace_strict(POLICY_TYPE_CODES, return_dtype=pl.Int8)
        .to_numpy(),
        measure=frame["_measure"].replace_strict(MEASURE_CODES, return_dtype=pl.Int8).to_numpy(),
        target=col("_target"),
        demand_mean=col("demand_mean"),
        demand_sd=col("demand_sd"),
        lead_time_mean=col("lead_time_mean"),
        lead_time_sd=col("lead_time_sd"),
        review_period=col("_review", 0.0),
        order_quantity=col("order_quantity", 0.0),
        distribution=np.where(gamma, Distribution.GAMMA, Distribution.NORMAL),
        floor_units=col("_floor_units"),
        floor_periods=col("_floor_days") / p,
        cap_units=col("_cap_units"),
        cap_periods=col("_cap_days") / p,
        flags=frame["flags"].fill_null(0).to_numpy(),
    )
    r = compute_policy(inputs, k_max=doc.k_max, floor_k_at_zero=doc.floor_k_at_zero)
    numbers = {
        "order_quantity": r.cycle_quantity,
        "sigma": r.sigma,
        "k": r.k,
        "safety_stock": r.safety_stock,
        "reorder_point": r.reorder_point,
        "order_up_to": r.order_up_to,
        "expected_fill_rate": r.expected_fill_rate,
        "expected_cycle_service_level": r.expected_cycle_service_level,
        "expected_on_hand": r.expected_on_hand,
        "demand_share": r.demand_share,
        "lead_time_share": r.lead_time_share,
    }
    out = frame.with_columns(
        *[pl.Series(name, values).fill_nan(None) for name, values in numbers.items()],
        pl.Series("flags", r.flags).cast(pl.Int32),
        pl.lit(doc.target_rule).alias("target_rule"),
        pl.col("_policy").alias("policy_type"),
        pl.col("_measure").alias("service_measure"),
        pl.col("_target").alias("service_target"),
        pl.Series("distribution", np.where(gamma, "gamma", "normal")),
        pl.col("_review").alias("review_period"),
        pl.when(pl.col("segment_code") == "\x00")
        .then(None)
        .otherwise(pl.col("segment_code"))
        .alias("segment_code"),
    )
    return out.select([pl.col(name).cast(dtype) for name, dtype in RESULT_COLUMNS.items()]).sort(
        KEY
    )


def results_digest(results: pl.DataFrame) -> str:
    """sha256 over the results sorted by key, numbers rounded to 6 decimals so a
    recomputation on another machine compares equal."""
    rounded = results.sort(KEY).with_columns(
        pl.col(pl.Float64).map_batches(
            lambda s: pl.Series(s.name, np.round(s.to_numpy(), 6)), return_dtype=pl.Float64
        )
    )
    buffer = rounded.write_csv(None)
    return "sha256:" + hashlib.sha256(buffer.encode()).hexdigest()
