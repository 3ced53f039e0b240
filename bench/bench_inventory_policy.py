"""Inventory policy runs: the compute step against a hand-written numpy baseline, a whole run
from PostgreSQL to written results, and the calculator endpoint's latency.

- **Compute** (``--items``, default 1,000,000 SKU-locations): the engine's ``compute_results``
  (segment join, order quantities, k from cycle service level or fill rate, gamma for the
  intermittent share, floors and caps, expected service) against a numpy function written for
  these inputs alone (same formulas, same root finders, no frames, no flags); both must agree
  on every safety stock. Target: engine <= 1.5 x the baseline, in the same run.
- **Run** (``--run-items``, default 100,000 SKU-locations; order lines 26 weeks, 2 lines a week
  each): ``run_policy`` end to end (COPY out of order lines and lead times, statistics,
  compute, COPY of results and archived statistics, one transaction). Peak memory is the
  process's maximum resident set. Target for 1M SKU-locations: <= 30 s and <= 2 GB (the run
  at ``--run-items`` is reported with its per-SKU-location time).
- **Calculator**: ``POST /api/v1/inventory/policy:calculate`` in-process, 500 requests after
  50 warm-up ones: p50 and p99. Target: p99 <= 20 ms.

Run ``python -m bench inventory_policy``; writes ``bench/results/inventory_policy.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import polars as pl
from scipy.special import gammainc, gammaincc, gammaincinv, ndtr, ndtri

from bench._harness import fresh_runtime, percentile, write_result
from tierline.inventory.document import OrderQuantity, PolicyDocument, SegmentPolicy
from tierline.inventory.engine import compute_results

SEGMENTS = ["PLAT", "GOLD", "SILV", "BRNZ"]
TARGETS = {
    "PLAT": {"fill_rate": 0.98, "cycle_service_level": 0.97},
    "GOLD": {"fill_rate": 0.96, "cycle_service_level": 0.95},
    "SILV": {"fill_rate": 0.93, "cycle_service_level": 0.92},
    "BRNZ": {"fill_rate": 0.90, "cycle_service_level": 0.88},
}
K_MAX = 4.0


def document() -> PolicyDocument:
    """PLAT and GOLD on fill rate with (s, Q), SILV on CSL with (s, Q), BRNZ weekly min/max."""
    return PolicyDocument(
        scheme="bench",
        segments=[
            SegmentPolicy(
                segment="PLAT",
                service_measure="fill_rate",
                order_quantity=OrderQuantity(rule="days_of_demand", days=7),
            ),
            SegmentPolicy(
                segment="GOLD",
                service_measure="fill_rate",
                order_quantity=OrderQuantity(rule="days_of_demand", days=14),
            ),
            SegmentPolicy(
                segment="SILV", order_quantity=OrderQuantity(rule="days_of_demand", days=14)
            ),
            SegmentPolicy(
                segment="BRNZ",
                policy_type="min_max",
                review_period_days=7,
                order_quantity=OrderQuantity(rule="days_of_demand", days=28),
            ),
        ],
    )


def statistics(n: int, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Synthetic per-SKU-location statistics (daily periods) and segments; a fifth
    intermittent."""
    mean = rng.lognormal(1.5, 1.0, n)
    intermittent = rng.random(n) < 0.2
    cv = np.where(intermittent, rng.uniform(1.0, 3.0, n), rng.uniform(0.2, 0.9, n))
    keys = pl.DataFrame(
        {
            "sku": [f"S{i:07d}" for i in range(n)],
            "location_code": [f"L{i % 25:02d}" for i in range(n)],
        }
    )
    stats = keys.with_columns(
        pl.lit("EA").alias("base_uom"),
        pl.lit(365, pl.Int32).alias("periods"),
        pl.lit(0, pl.Int32).alias("zero_periods"),
        pl.Series("demand_mean", mean),
        pl.Series("demand_sd", mean * cv),
        pl.Series("demand_class", np.where(intermittent, "lumpy", "smooth")),
        pl.lit("observed").alias("lead_time_source"),
        pl.lit(20, pl.Int32).alias("lead_time_observations"),
        pl.Series("lead_time_mean", rng.uniform(2, 20, n)),
        pl.Series("lead_time_sd", rng.uniform(0, 4, n)),
        pl.lit(0, pl.Int64).alias("flags"),
    )
    segments = keys.with_columns(
        pl.Series("segment_code", np.array(SEGMENTS)[rng.integers(0, 4, n)]),
        pl.lit(None, pl.List(pl.Struct({"segment": pl.String, "share": pl.Float64}))).alias(
            "segment_weights"
        ),
    )
    return stats, segments


def _newton_fill(t: np.ndarray) -> np.ndarray:
    """k with G(k) = t, Newton from 0 with bisection when a step leaves the bracket, iterating
    only on the rows not yet converged (as a careful hand-written version would)."""
    out = np.full_like(t, K_MAX)
    g_max = np.exp(-0.5 * K_MAX**2) / np.sqrt(2 * np.pi) - K_MAX * ndtr(-K_MAX)
    idx = np.flatnonzero(g_max <= t)
    want = t[idx]
    lo, hi, k = -want - 1.0, np.full_like(want, K_MAX), np.zeros_like(want)
    for _ in range(100):
        z = ndtr(-k)
        excess = np.exp(-0.5 * k * k) / np.sqrt(2 * np.pi) - k * z - want
        lo, hi = np.where(excess > 0, k, lo), np.where(excess > 0, hi, k)
        step = k + excess / np.maximum(z, 1e-300)
        step = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        done = np.abs(step - k) <= 1e-12 * np.maximum(1.0, np.abs(k))
        out[idx[done]] = step[done]
        keep = ~done
        idx, want, lo, hi, k = idx[keep], want[keep], lo[keep], hi[keep], step[keep]
        if idx.size == 0:
            break
    out[idx] = k
    return out


def _gamma_loss(s: np.ndarray, a: np.ndarray, th: np.ndarray) -> np.ndarray:
    return a * th * gammaincc(a + 1, s / th) - s * gammaincc(a, s / th)


def baseline(stats: pl.DataFrame, segments: pl.DataFrame) -> np.ndarray:
    """The same policies written directly in numpy for these inputs: safety stock per row."""
    seg = segments["segment_code"].to_numpy()
    d, sd = stats["demand_mean"].to_numpy(), stats["demand_sd"].to_numpy()
    lt, slt = stats["lead_time_mean"].to_numpy(), stats["lead_time_sd"].to_numpy()
    gamma = stats["demand_class"].to_numpy() == "lumpy"
    fill = (seg == "PLAT") | (seg == "GOLD")
    r = np.where(seg == "BRNZ", 7.0, 0.0)
    days = np.select([seg == "PLAT", seg == "BRNZ"], [7.0, 28.0], 14.0)
    q = np.maximum(d * days, 1.0)
    target = np.select(
        [seg == s for s in SEGMENTS],
        [
            TARGETS[s]["fill_rate" if s in ("PLAT", "GOLD") else "cycle_service_level"]
            for s in SEGMENTS
        ],
    )
    sigma = np.sqrt((lt + r) * sd * sd + d * d * slt * slt)
    mu = d * (lt + r)
    k = np.where(fill, 0.0, ndtri(np.where(fill, 0.5, target)))
    k[fill] = _newton_fill((1 - target[fill]) * q[fill] / sigma[fill])
    a, th = mu[gamma] ** 2 / sigma[gamma] ** 2, sigma[gamma] ** 2 / mu[gamma]
    level = gammaincinv(a, np.where(fill[gamma], 0.5, target[gamma])) * th
    g_fill = fill[gamma]
    upper = (mu + K_MAX * sigma)[gamma][g_fill]
    allowed = ((1 - target) * q)[gamma][g_fill]
    ag, tg = a[g_fill], th[g_fill]
    unattainable = _gamma_loss(upper, ag, tg) > allowed
    solved = upper.copy()
    mean_g = mu[gamma][g_fill]
    solved[~unattainable & (mean_g <= allowed)] = 0.0
    idx = np.flatnonzero(~unattainable & (mean_g > allowed))
    ag, tg, want = ag[idx], tg[idx], allowed[idx]
    lo, hi, s = np.zeros(idx.size), upper[idx].copy(), np.minimum(mean_g[idx], upper[idx])
    for _ in range(100):
        tail = gammaincc(ag, s / tg)
        excess = ag * tg * gammaincc(ag + 1, s / tg) - s * tail - want
        lo, hi = np.where(excess > 0, s, lo), np.where(excess > 0, hi, s)
        step = s + excess / np.maximum(tail, 1e-300)
        step = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        done = np.abs(step - s) <= 1e-10 * np.maximum(1.0, s)
        solved[idx[done]] = step[done]
        keep = ~done
        idx, ag, tg, want, lo, hi, s = (
            idx[keep],
            ag[keep],
            tg[keep],
            want[keep],
            lo[keep],
            hi[keep],
            step[keep],
        )
        if idx.size == 0:
            break
    solved[idx] = s
    level[g_fill] = solved
    k[gamma] = (np.ceil(level - 1e-9) - mu[gamma]) / sigma[gamma]
    k = np.clip(k, 0.0, K_MAX)
    ss = k * sigma
    _ = 1 - sigma * (np.exp(-0.5 * k * k) / np.sqrt(2 * np.pi) - k * ndtr(-k)) / q  # fill
    _ = np.where(gamma, 0.0, ndtr(k))  # csl
    _ = gammainc(1.0, 1.0)
    return ss


def bench_compute(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    stats, segments = statistics(n, rng)
    doc = document()
    timings_engine, timings_base = [], []
    results = compute_results(stats, segments, doc, TARGETS)  # warm-up (imports, caches)
    for _ in range(3):
        started = time.perf_counter()
        results = compute_results(stats, segments, doc, TARGETS)
        timings_engine.append(time.perf_counter() - started)
        started = time.perf_counter()
        ss = baseline(stats, segments)
        timings_base.append(time.perf_counter() - started)
    engine_ss = results.sort("sku")["safety_stock"].to_numpy()
    agree = np.allclose(engine_ss, ss, rtol=1e-6, atol=1e-6)
    ratio = min(timings_engine) / min(timings_base)
    return {
        "items": n,
        "engine_seconds_best": round(min(timings_engine), 3),
        "numpy_baseline_seconds_best": round(min(timings_base), 3),
        "ratio_engine_vs_baseline": round(ratio, 2),
        "safety_stocks_agree": bool(agree),
        "target_ratio": 1.5,
        "meets_target": ratio <= 1.5 and agree,
    }


async def _seed(runtime: Any, tenant: Any, n: int, rng: np.random.Generator) -> None:
    """``n`` SKU-locations over 25 locations: products, locations, a supplier, lead times
    (5 per lane), 26 weeks of order lines (2 a week), a customer scheme with assignments."""
    from tierline.platform.frames import copy_frame
    from tierline.platform.tenancy import tenant_session

    locations, skus = 25, n // 25
    today = datetime.now(UTC).date()
    async with tenant_session(tenant, runtime.databases) as s:
        conn = await s.connection()
        now = datetime.now(UTC)
        await copy_frame(
            conn,
            "products",
            pl.DataFrame(
                {
                    "sku": [f"S{i:07d}" for i in range(skus)],
                    "description": "bench",
                    "base_uom": "EA",
                    "lifecycle": "active",
                    "scope": "*",
                    "attributes": "{}",
                    "created_at": now,
                    "updated_at": now,
                }
            ),
        )
        await copy_frame(
            conn,
            "locations",
            pl.DataFrame(
                {
                    "code": [f"L{i:02d}" for i in range(locations)],
                    "name": "DC",
                    "kind": "dc",
                    "echelon": 1,
                    "scope": "*",
                    "created_at": now,
                    "updated_at": now,
                }
            ),
        )
        await copy_frame(
            conn,
            "suppliers",
            pl.DataFrame(
                {
                    "code": ["SUP"],
                    "name": ["Supplier"],
                    "attributes": ["{}"],
                    "created_at": [now],
                    "updated_at": [now],
                }
            ),
        )
        lead = pl.DataFrame(
            {
                "sku": "S0000000",
                "location_code": [f"L{i % locations:02d}" for i in range(125)],
                "supplier_code": "SUP",
                "ordered_on": [today - timedelta(days=30 + i) for i in range(125)],
                "received_on": [today - timedelta(days=20 + i % 7) for i in range(125)],
            }
        ).with_columns(
            (pl.col("received_on") - pl.col("ordered_on")).dt.total_days().alias("lead_time_days"),
            pl.lit(now).alias("created_at"),
            pl.lit(now).alias("updated_at"),
        )
        await copy_frame(conn, "lead_times", lead)
        await conn.exec_driver_sql(
            "INSERT INTO segmentation_schemes (code, entity, name, created_at) "
            "VALUES ('bench', 'customer', 'Bench', now())"
        )
        customers = pl.DataFrame({"customer_code": [f"C{i}" for i in range(4)]})
        await copy_frame(
            conn,
            "segment_assignments",
            customers.with_columns(
                pl.lit("bench").alias("scheme_code"),
                pl.col("customer_code").alias("entity_key"),
                pl.Series("segment", SEGMENTS),
                pl.lit(now).alias("valid_from"),
                pl.lit("manual").alias("source"),
            ),
        )
    weeks, per_week = 26, 2
    lines = n * weeks * per_week
    chunk = 2_000_000
    for start in range(0, lines, chunk):
        size = min(chunk, lines - start)
        idx = pl.int_range(start, start + size, eager=True) // (weeks * per_week)
        back = pl.Series(rng.integers(1, weeks * 7, size))
        frame = (
            pl.DataFrame(
                {"i": pl.int_range(start, start + size, eager=True), "idx": idx, "back": back}
            )
            .select(
                pl.format("O{}", pl.col("i")).alias("order_no"),
                pl.lit(1).alias("line_no"),
                pl.format("C{}", pl.col("idx") % 4).alias("customer_code"),
                pl.format("S{}", (pl.col("idx") // locations).cast(pl.String).str.zfill(7)).alias(
                    "sku"
                ),
                pl.format("L{}", (pl.col("idx") % locations).cast(pl.String).str.zfill(2)).alias(
                    "location_code"
                ),
                (pl.lit(today) - pl.duration(days=pl.col("back")))
                .cast(pl.Date)
                .alias("order_date"),
                pl.Series("quantity", rng.gamma(2.0, 5.0, size).round(0)),
                pl.lit("EA").alias("ordered_uom"),
                pl.lit(False).alias("margin_estimated"),
                pl.lit(False).alias("damaged"),
                pl.lit(True).alias("documentation_ok"),
                pl.lit(now).alias("created_at"),
                pl.lit(now).alias("updated_at"),
            )
            .with_columns(pl.col("quantity").alias("ordered_quantity"))
        )
        async with tenant_session(tenant, runtime.databases) as s:
            await copy_frame(await s.connection(), "order_lines", frame)


async def bench_run_and_calculator(n: int, seed: int) -> dict[str, Any]:
    from tests.support.web import asgi_lifespan
    from tierline.inventory import service as inventory
    from tierline.platform.app import create_app
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.platform.identity.clients import create_client
    from tierline.platform.identity.users import Actor
    from tierline.platform.tenancy import tenant_session
    from tierline.tenants.service import provision_tenant

    actor = Actor("bench", "system")
    rng = np.random.default_rng(seed)
    async with fresh_runtime() as runtime:
        tenant = await provision_tenant(
            runtime.databases, "bench_inv", "Bench", "eu", kms=kms_from_settings(runtime.settings)
        )
        started = time.perf_counter()
        await _seed(runtime, tenant, n, rng)
        seeding = time.perf_counter() - started
        doc = document()
        body = {
            **__import__("msgspec").to_builtins(doc),
            "target_rule": "demand_weighted",
            "default_lead_time_days": 10.0,
        }
        for s in body["segments"]:
            s["target"] = TARGETS[s["segment"]][s.get("service_measure", "cycle_service_level")]
        async with tenant_session(tenant, runtime.databases) as session:
            await inventory.create_policy(session, "bench", "Bench", body, actor)
            await inventory.publish(session, "bench", actor)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        stages: dict[str, float] = {}

        async def progress(_fraction: float, message: str) -> None:
            stages[message] = round(time.perf_counter() - started, 2)

        outcome = await inventory.run_policy(
            runtime, tenant, "bench", actor=actor, progress=progress
        )
        run_seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        client_id, secret = await create_client(tenant, "bench", ["inventory:read"], "bench")
        app = create_app(runtime.settings, runtime=runtime)
        latencies = []
        async with asgi_lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                token = (
                    await c.post(
                        "/api/v1/oauth/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": client_id,
                            "client_secret": secret,
                        },
                    )
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                payload = {
                    "demand_mean": 120,
                    "demand_sd": 40,
                    "lead_time_mean": 6,
                    "lead_time_sd": 1.5,
                    "order_quantity": 800,
                    "service_measure": "fill_rate",
                    "target": 0.98,
                }
                for i in range(550):
                    t0 = time.perf_counter()
                    resp = await c.post(
                        "/api/v1/inventory/policy:calculate", json=payload, headers=headers
                    )
                    if i >= 50:
                        latencies.append(time.perf_counter() - t0)
                    assert resp.status_code == 200, resp.text
    p99 = percentile(latencies, 0.99) * 1000
    return {
        "run": {
            "sku_locations": outcome.counts.get("sku_locations"),
            "order_lines": n * 52,
            "seeding_seconds": round(seeding, 1),
            "run_seconds": round(run_seconds, 2),
            "microseconds_per_sku_location": round(run_seconds / n * 1e6, 1),
            "peak_rss_mb_after_run": round(rss_after, 0),
            "peak_rss_mb_before_run": round(rss_before, 0),
            "status": outcome.status,
            "stage_started_at_seconds": stages,
        },
        "calculator": {
            "requests": len(latencies),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(p99, 2),
            "target_p99_ms": 20,
            "meets_target": p99 <= 20,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--run-items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-compute", action="store_true")
    args = parser.parse_args()
    compute = {} if args.skip_compute else bench_compute(args.items, args.seed)
    print(compute, flush=True)
    rest = asyncio.run(bench_run_and_calculator(args.run_items, args.seed))
    write_result("inventory_policy", {"compute": compute, **rest})


if __name__ == "__main__":
    main()
