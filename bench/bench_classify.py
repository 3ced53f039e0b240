"""Classification speed: ``classify`` on the customer_service template vs hand-written polars.

A synthetic features frame of 70,000 customers (lognormal revenue with ties and a share of
zero-demand customers, CV, margin, strategic flag, region and channel with gaps) is classified
by (a) ``tierline.segmentation.runs.engine.classify`` -- scheme compiled into one when/then chain --
and (b) a baseline written directly in polars for the same ABC, XYZ, defaults and tree. Both
must agree row for row. Best of 5 runs each.

Target: (a) <= 1.5x (b). Run ``python -m bench classify`` or ``python bench/bench_classify.py``;
writes ``bench/results/classify.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tierline.segmentation.runs.engine import ENGINE_VERSION, classify
from tierline.segmentation.schemes.document import load_template, parse_scheme

RESULT_FILE = Path(__file__).resolve().parent / "results" / "classify.json"
TARGET_RATIO = 1.5


def make_features(entities: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    revenue = np.round(rng.lognormal(8, 2, entities), 0)
    revenue[rng.random(entities) < 0.08] = 0.0  # customers with no orders in the window
    cv = rng.gamma(2.0, 0.4, entities)
    margin_pct = rng.normal(0.2, 0.1, entities)

    def gaps(values: np.ndarray, share: float) -> list[Any]:
        missing = rng.random(entities) < share
        return [None if m else v for v, m in zip(values.tolist(), missing, strict=True)]

    return pl.DataFrame(
        {
            "entity_key": [f"C{i:07d}" for i in range(entities)],
            "volume": revenue / 10,
            "revenue": revenue,
            "margin": revenue * margin_pct,
            "margin_pct": gaps(margin_pct, 0.05),
            "order_count": rng.integers(0, 200, entities),
            "order_lines": rng.integers(0, 800, entities),
            "cv": [None if r == 0 else c for r, c in zip(revenue, cv, strict=True)],
            "max_period_share": rng.random(entities),
            "strategic": gaps(rng.random(entities) < 0.03, 0.2),
            # as imports store them (lower case), with some spelled otherwise
            "region": gaps(rng.choice(["emea", "amer", "apac", "EMEA", " Apac "], entities), 0.1),
            "channel": gaps(
                rng.choice(["distributor", "retail", "oem", "project", "OEM"], entities), 0.1
            ),
        }
    )


def _text(name: str, default: str) -> pl.Expr:
    """Trimmed, lower case, empty as missing, then the default (as the engine compares)."""
    text = pl.col(name).str.strip_chars().str.to_lowercase()
    return pl.when(text.str.len_chars() > 0).then(text).fill_null(default)


def baseline(features: pl.DataFrame) -> pl.DataFrame:
    """The customer_service template, written by hand (segment, abc, xyz only): ABC decided
    exactly on integer units of 1/10,000 against the thresholds' exact cut-offs."""
    driver = (pl.col("revenue").fill_null(0.0).clip(lower_bound=0.0) * 10_000).round(0)
    units = driver.cast(pl.Int128)
    total = int(features.select(units.sum()).item())
    cut_a = pl.lit(math.ceil(Fraction(4, 5) * total), pl.Int128)
    cut_b = pl.lit(math.ceil(Fraction(19, 20) * total), pl.Int128)
    ranked = (
        features.lazy()
        .with_columns(units.alias("d"))
        .sort(["d", "entity_key"], descending=[True, False])
    )
    before = pl.col("d").cum_sum() - pl.col("d")  # units before the entity
    abc = pl.when(pl.col("d") <= 0).then(pl.lit("C")).when(before < cut_a).then(pl.lit("A"))
    abc = abc.when(before < cut_b)
    cv = pl.col("cv")
    xyz = pl.when(cv.is_null()).then(pl.lit("Z")).when(cv <= 0.5).then(pl.lit("X"))
    region = _text("region", "unknown")
    channel = _text("channel", "unknown")
    margin_pct = pl.col("margin_pct").fill_null(0.0)
    strategic = pl.col("strategic").fill_null(False)
    a, b = pl.col("abc") == "A", pl.col("abc") == "B"
    mid = b | channel.is_in(["oem", "project"])
    segment = (
        pl.when(strategic & pl.col("abc").is_in(["A", "B"]))
        .then(pl.lit("PLAT"))
        .when(a & (margin_pct >= 0.25))
        .then(pl.lit("PLAT"))
        .when(a)
        .then(pl.lit("GOLD"))
        .when(mid & (region == "emea"))
        .then(pl.lit("GOLD"))
        .when(mid)
        .then(pl.lit("SILV"))
        .when(pl.col("xyz") != "Z")
        .then(pl.lit("SILV"))
        .otherwise(pl.lit("BRNZ"))
    )
    return (
        ranked.with_columns(
            abc.then(pl.lit("B")).otherwise(pl.lit("C")).alias("abc"),
            xyz.when(cv <= 1.0).then(pl.lit("Y")).otherwise(pl.lit("Z")).alias("xyz"),
        )
        .select("entity_key", segment.alias("segment"), "abc", "xyz")
        .sort("entity_key")
        .collect()
    )


def best_of(fn: Callable[[], pl.DataFrame], repeats: int) -> tuple[float, pl.DataFrame]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


def run(entities: int, repeats: int, seed: int) -> dict[str, Any]:
    scheme = parse_scheme(load_template("customer_service")).scheme
    features = make_features(entities, seed)
    engine_s, engine = best_of(lambda: classify(scheme, features), repeats)
    baseline_s, hand = best_of(lambda: baseline(features), repeats)
    mismatches = (
        engine.select("entity_key", "segment", "abc", "xyz")
        .join(hand, on="entity_key", suffix="_hand")
        .filter(
            (pl.col("segment") != pl.col("segment_hand"))
            | (pl.col("abc") != pl.col("abc_hand"))
            | (pl.col("xyz") != pl.col("xyz_hand"))
        )
    )
    assert mismatches.height == 0, mismatches.head()
    ratio = engine_s / baseline_s
    return {
        "entities": entities,
        "repeats": repeats,
        "engine_version": ENGINE_VERSION,
        "classify_best_ms": round(engine_s * 1000, 2),
        "baseline_best_ms": round(baseline_s * 1000, 2),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "within_target": ratio <= TARGET_RATIO,
        "segments": dict(engine.group_by("segment").len().sort("segment").iter_rows()),
        "seed": seed,
        "python": platform.python_version(),
        "polars": pl.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=70_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20_250_301)
    args, _ = parser.parse_known_args(argv)  # `python -m bench classify` leaves names in argv
    result = run(args.entities, args.repeats, args.seed)
    print(f"{result['entities']:,} entities, best of {result['repeats']}:")
    print(f"  classify (compiled scheme) {result['classify_best_ms']:>9} ms")
    print(f"  hand-written polars        {result['baseline_best_ms']:>9} ms")
    verdict = "within" if result["within_target"] else "OVER"
    print(f"  ratio {result['ratio']}: {verdict} target {TARGET_RATIO}")
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULT_FILE}")


if __name__ == "__main__":
    main()
