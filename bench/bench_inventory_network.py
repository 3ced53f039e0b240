"""ERP reconciliation and the simulation's wiring on the ``large`` synthetic network.

- **Reconciliation**: the run's recommendations (synthetic: the ERP's own numbers moved by a
  random factor, the shape of ``latest_policy_results``) against the 1.14M ERP parameter rows
  of ``large`` with lanes, unit conversions and unit costs: ``compare.reconcile`` timed against
  a hand-written polars baseline in the same run (the same join and the two deltas, nothing
  else: no flags, no unit or calendar work, no proposal); then sealing the money at stake of
  every row, and the write-back file of the changed rows.
- **Simulation wiring**: ``simulations.inputs.replay_inputs`` (rows capped at 100k x 364 days,
  the demand matrix, lanes and their lead times, both policies) against the two replays and
  the comparison it feeds (the engine, measured in the same run).

Run ``python -m bench inventory_network``; writes ``bench/results/inventory_network.json``.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from typing import Any

import numpy as np
import polars as pl

from bench._harness import write_result
from tierline.demo.synthetic import generate
from tierline.inventory.reconciliation.compare import reconcile
from tierline.inventory.reconciliation.writeback import writeback_file, writeback_rows
from tierline.inventory.simulations.inputs import replay_inputs
from tierline.inventory.simulations.service import MAX_CELLS, replay
from tierline.masterdata.profiles.presets import presets

AS_OF = dt.date(2026, 3, 31)
DAYS = 364


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def recommendations(erp: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    n = erp.height
    move = rng.lognormal(0.0, 0.4, n)
    return erp.select(
        "sku",
        "location_code",
        pl.Series(
            "segment_code", np.array(["PLAT", "GOLD", "SILV", "BRNZ"])[rng.integers(0, 4, n)]
        ),
        pl.Series("policy_type", np.where(rng.random(n) < 0.8, "s_q", "r_s")),
        (pl.col("safety_stock") * move).alias("safety_stock"),
        (pl.col("reorder_point") * move).alias("reorder_point"),
        (pl.col("reorder_point") * move * 1.5).alias("order_up_to"),
        (pl.col("planned_delivery_days") * rng.uniform(0.8, 1.3, n)).alias("lead_time_mean"),
        (pl.col("min_lot") + 1.0).alias("order_quantity"),
        pl.lit(1.0).alias("review_period"),
        (pl.col("reorder_point") / 4 + 1.0).alias("demand_mean"),
        (pl.col("reorder_point") / 8 + 0.5).alias("demand_sd"),
        pl.Series(
            "demand_class",
            np.array(["smooth", "erratic", "intermittent", "lumpy"])[rng.integers(0, 4, n)],
        ),
        pl.lit("fill_rate").alias("service_measure"),
        pl.lit(0.95).alias("service_target"),
        pl.lit(0.95).alias("expected_fill_rate"),
        pl.lit(0.9).alias("expected_cycle_service_level"),
    )


def baseline(rec: pl.DataFrame, erp: pl.DataFrame) -> pl.DataFrame:
    """The least a comparison does: join and subtract."""
    return rec.join(
        erp, on=["sku", "location_code"], how="full", coalesce=True, suffix="_erp"
    ).select(
        "sku",
        "location_code",
        (pl.col("safety_stock") - pl.col("safety_stock_erp")).alias("safety_stock_delta"),
        (pl.col("reorder_point") - pl.col("reorder_point_erp")).alias("reorder_point_delta"),
    )


def erp_in_base(data: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ERP parameters as the import stores them (base units) and the unit factors."""
    units = data.products.select(
        "sku", "base_uom", pl.col("base_uom").alias("uom"), pl.lit(1.0).alias("factor")
    )
    packs = data.uom_conversions.join(data.products.select("sku", "base_uom"), on="sku").select(
        "sku", "base_uom", "uom", "factor"
    )
    factors = pl.concat([units, packs]).unique(["sku", "uom"])
    per = data.erp_parameters.join(
        factors.select("sku", "uom", "factor"), on=["sku", "uom"], how="left"
    )
    qty = ["reorder_point", "safety_stock", "min_lot", "lot_rounding", "max_stock"]
    erp = per.with_columns(
        [(pl.col(c) * pl.col("factor").fill_null(1.0)).alias(c) for c in qty]
    ).drop("factor")
    return erp, factors


def main() -> None:
    rng = np.random.default_rng(7)
    data, generate_s = timed(generate, "large", 7, AS_OF)
    erp, units = erp_in_base(data)
    rec = recommendations(erp, rng)
    lanes = data.sourcing_lanes
    costs = data.products.select(
        "sku", pl.Series("unit_cost", rng.uniform(1, 200, data.products.height))
    )
    base_rounds, rec_rounds = [], []
    for _ in range(3):  # alternating rounds, medians
        _, s = timed(baseline, rec, erp)
        base_rounds.append(s)
        reconciled, s = timed(
            reconcile, rec, erp, lanes.select("location_code", "calendar"), units, costs
        )
        rec_rounds.append(s)
    changed = reconciled.filter(pl.col("changed"))

    import os

    from tierline.inventory.reconciliation.service import seal_stakes
    from tierline.platform.encryption.codec import FieldCodec
    from tierline.platform.encryption.keyring import TenantKeyring

    # a throwaway data key: sealing costs the same whatever the key
    codec = FieldCodec(TenantKeyring("bench", {1: os.urandom(32)}, 1))
    _, seal_s = timed(seal_stakes, codec, 1, reconciled)
    rows, _ = timed(writeback_rows, changed, erp)
    body, write_s = timed(writeback_file, rows, presets()["sap_mrp_parameters"])

    lines = data.order_lines.filter(pl.col("location_code").is_not_null())
    daily = lines.group_by("sku", "location_code", pl.col("order_date").alias("day")).agg(
        pl.col("quantity").sum()
    )
    observations = data.lead_times.with_columns(
        (pl.col("received_on") - pl.col("ordered_on"))
        .dt.total_days()
        .cast(pl.Float64)
        .alias("lead_time_days")
    ).select("sku", "location_code", "supplier_code", "lead_time_days")
    start = AS_OF - dt.timedelta(days=DAYS)
    inputs, wiring_s = timed(
        replay_inputs, rec, erp, lanes, observations, daily,
        start=start, days=DAYS, period_days=1, max_rows=MAX_CELLS // DAYS,
    )  # fmt: skip
    done, replay_s = timed(replay, inputs, 7, 56)
    base_median = float(np.median(base_rounds))
    rec_median = float(np.median(rec_rounds))
    write_result(
        "inventory_network",
        {
            "sku_locations": reconciled.height,
            "generate_large_s": round(generate_s, 2),
            "reconcile": {
                "median_s": round(rec_median, 3),
                "baseline_join_median_s": round(base_median, 3),
                "ratio_to_baseline": round(rec_median / base_median, 2),
                "rounds_s": [round(x, 3) for x in rec_rounds],
                "baseline_rounds_s": [round(x, 3) for x in base_rounds],
                "changes": changed.height,
            },
            "seal_money_at_stake_s": round(seal_s, 2),
            "writeback": {"rows": changed.height, "bytes": len(body), "seconds": round(write_s, 2)},
            "simulation": {
                "rows": inputs.keys.height,
                "candidates": inputs.candidates,
                "days": DAYS,
                "wiring_s": round(wiring_s, 2),
                "replay_and_comparison_s": round(replay_s, 2),
                "wiring_share_of_replay": round(wiring_s / replay_s, 2),
                "segments": len(done.comparison),
            },
            "peak_rss_mb": round(peak_mb(), 0),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )


if __name__ == "__main__":
    main()
