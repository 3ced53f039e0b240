"""Synthetic data generation: ``generate(scale)`` time, rows per second and peak memory.

Target for ``large`` (>= 20k customers, >= 50k products, >= 2M order lines, >= 1M
SKU-locations with demand over a network of 3 echelons): under 60 s and under 2 GB peak RSS
on 2 cores.

Each scale runs in a fresh child process, so the peak RSS (``resource.getrusage``) is that
generation's own and not whatever the benchmark runner held before. The child reports its RSS
after the imports as well, to separate the libraries' share from the generator's.

Run ``python -m bench synthetic`` or ``python bench/bench_synthetic.py [--scales large]``.
Writes ``bench/results/synthetic.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULT_FILE = Path(__file__).resolve().parent / "results" / "synthetic.json"
TARGET_SECONDS = 60.0
TARGET_PEAK_MB = 2048.0
AS_OF = "2026-03-31"  # fixed, so runs on different days generate the same data


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(scale: str, seed: int, as_of: str) -> dict[str, Any]:
    """Generate one scale in this (fresh) process and measure it."""
    import gc

    from tierline.demo.synthetic import generate

    gc.collect()
    baseline = peak_rss_mb()
    started = time.perf_counter()
    data = generate(scale, seed=seed, as_of=dt.date.fromisoformat(as_of))
    seconds = time.perf_counter() - started
    rows = {name: frame.height for name, frame in data.frames().items()}
    total = sum(rows.values())
    return {
        "seconds": round(seconds, 3),
        "rows": rows,
        "total_rows": total,
        "rows_per_s": round(total / seconds),
        "order_lines_per_s": round(rows["order_lines"] / seconds),
        "customers": rows["customers"],
        "products": rows["products"],
        "order_lines": rows["order_lines"],
        "sku_locations_with_demand": data.order_lines.select("sku", "location_code")
        .unique()
        .height,
        "rss_after_imports_mb": round(baseline, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def measure(scale: str, seed: int, as_of: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", scale]
    command += ["--seed", str(seed), "--as-of", as_of]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{scale:>6}: {result['total_rows']:>10,} rows in {result['seconds']:6.2f} s "
        f"({result['rows_per_s']:,} rows/s), peak RSS {result['peak_rss_mb']:,.0f} MB",
        flush=True,
    )
    return result


def versions() -> dict[str, str]:
    import numpy
    import polars

    return {
        "python": platform.python_version(),
        "polars": polars.__version__,
        "numpy": numpy.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Time synthetic data generation per scale.")
    parser.add_argument("--scales", default="small,medium,large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # `python -m bench synthetic` leaves its names in argv
    if args.child:
        print(json.dumps(child(args.child, args.seed, args.as_of)))
        return
    scales = {name: measure(name, args.seed, args.as_of) for name in args.scales.split(",")}
    result: dict[str, Any] = {"seed": args.seed, "as_of": args.as_of, "scales": scales}
    if "large" in scales:
        large = scales["large"]
        result["target"] = {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_PEAK_MB}
        result["within_target"] = (
            large["seconds"] < TARGET_SECONDS and large["peak_rss_mb"] < TARGET_PEAK_MB
        )
    result.update(versions())
    result["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    result["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    RESULT_FILE.parent.mkdir(exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
