"""Authorization decisions: stock pycasbin ``enforce`` against ``PolicyEngine.allowed``.

One tenant with 1,000 users holding about 1,700 role grants across eight scopes plus the default
role policy (about 1,800 Casbin rules). A seeded stream of mixed decisions imitates requests:
a user mostly acts in a scope they hold (15% probe another one), mostly asks for permissions of
their own roles (30% anything in the catalogue: hidden buttons, refused routes), and 1% of
subjects hold no grant at all. Timed, one decision at a time:

(a) stock ``casbin.Enforcer`` on the same model and rules (``StringAdapter``), over the first
    ``--raw-samples`` decisions of the stream; its answers are checked against the engine's;
(b) the engine with its memo switched off: every decision reaches Casbin (indexed policy,
    tuned role manager), i.e. the cost of a memo miss;
(c) the engine as deployed, over the whole stream from an empty memo (cold start included);
(d) the same stream again, memo warm.

Target: (c) median <= 50 us per decision. Run ``python bench/bench_authz.py`` (or
``python -m bench authz``); writes ``bench/results/authz.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import casbin
from casbin.persist.adapters import StringAdapter

from tierline.policies import ALL_SCOPES, DEFAULT_POLICY, PERMISSIONS, Grant, PolicyEngine

TARGET_MEDIAN_US = 50.0
RESULT_FILE = Path(__file__).resolve().parent / "results" / "authz.json"
SCOPES = ["emea", "apac", "amer", "latam", "bu_chem", "bu_pharma", "bu_food", "bu_auto"]
ROLE_MIX = {  # share of users holding each role, roughly a mid-size supply-chain org
    "planner": 0.30,
    "analyst": 0.20,
    "account_manager": 0.20,
    "data_steward": 0.10,
    "customer": 0.10,
    "approver": 0.04,
    "auditor": 0.03,
    "admin": 0.03,
}

Decision = tuple[str, str, str]


def make_grants(rng: random.Random, users: int) -> list[Grant]:
    """1-3 grants per user; a quarter of them in ``*``, the rest in one scope."""
    roles, weights = list(ROLE_MIX), list(ROLE_MIX.values())
    grants = []
    for _ in range(users):
        user = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        count = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
        for role in rng.choices(roles, weights, k=count):
            scope = ALL_SCOPES if rng.random() < 0.25 else rng.choice(SCOPES)
            grants.append(Grant(user, role, scope))
    return grants


def make_stream(rng: random.Random, grants: list[Grant], n: int) -> list[Decision]:
    by_user: dict[str, list[Grant]] = {}
    for grant in grants:
        by_user.setdefault(grant.user_id, []).append(grant)
    users = list(by_user)
    catalogue = list(PERMISSIONS)
    stream = []
    for _ in range(n):
        if rng.random() < 0.01:  # a deactivated user or a machine client with no grant
            stream.append(
                (str(uuid.UUID(int=rng.getrandbits(128), version=4)), "emea", "tenant:view")
            )
            continue
        user = rng.choice(users)
        held = by_user[user]
        grant = rng.choice(held)
        if rng.random() < 0.15 or grant.scope == ALL_SCOPES:
            scope = rng.choice([ALL_SCOPES, *SCOPES])
        else:
            scope = grant.scope
        own = sorted(DEFAULT_POLICY[grant.role])
        permission = rng.choice(own) if rng.random() < 0.7 else rng.choice(catalogue)
        stream.append((user, scope, permission))
    return stream


def stock_enforcer(grants: list[Grant]) -> Any:
    """Casbin as its documentation sets it up: model file, string adapter, default managers."""
    lines = [
        f"p, {role}, *, {PERMISSIONS[p].object}, {PERMISSIONS[p].action}"
        for role, perms in DEFAULT_POLICY.items()
        for p in sorted(perms)
    ]
    lines += [f"g, {g.user_id}, {g.role}, {g.scope}" for g in grants]
    with resources.as_file(resources.files("tierline.policies") / "model.conf") as model:
        return casbin.Enforcer(str(model), StringAdapter("\n".join(lines)))


def casbin_request(decision: Decision) -> tuple[str, str, str, str]:
    """The request the engine puts to Casbin (tenant-wide permissions are asked in ``*``)."""
    user, scope, permission = decision
    entry = PERMISSIONS[permission]
    return user, ALL_SCOPES if entry.tenant_wide else scope, entry.object, entry.action


def time_each(
    fn: Callable[..., bool], calls: Sequence[Sequence[str]]
) -> tuple[list[float], list[bool]]:
    """Microseconds per call, timed one call at a time, and the answers."""
    clock = time.perf_counter_ns
    times, answers = [], []
    gc.collect()
    for args in calls:
        start = clock()
        answer = fn(*args)
        times.append((clock() - start) / 1000)
        answers.append(answer)
    return times, answers


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "n": len(times),
        "median_us": round(statistics.median(times), 2),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "mean_us": round(statistics.fmean(times), 2),
    }


def timer_overhead_us() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(10_000):
        start = clock()
        samples.append(clock() - start)
    return round(statistics.median(samples) / 1000, 3)


def run(users: int, decisions: int, raw_samples: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    grants = make_grants(rng, users)
    stream = make_stream(rng, grants, decisions)
    policy_rows = sum(len(p) for p in DEFAULT_POLICY.values())

    start = time.perf_counter()
    engine = PolicyEngine(grants)
    engine_build_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    stock = stock_enforcer(grants)
    stock_build_ms = (time.perf_counter() - start) * 1000

    raw_calls = [casbin_request(d) for d in stream[:raw_samples]]
    raw_times, raw_answers = time_each(stock.enforce, raw_calls)
    miss_times, miss_answers = time_each(
        PolicyEngine(grants, memo_size=0).allowed, stream[:raw_samples]
    )
    cold_times, cold_answers = time_each(engine.allowed, stream)
    info, casbin_calls = engine.cache_info(), engine.casbin_calls
    warm_times, _ = time_each(engine.allowed, stream)

    # Timings only mean something if all paths decide alike.
    assert raw_answers == miss_answers == cold_answers[:raw_samples], "paths disagree"
    cold = stats(cold_times)
    return {
        "users": users,
        "grants": len(grants),
        "policy_rules": policy_rows + len(grants),
        "decisions": len(stream),
        "allowed_share": round(sum(cold_answers) / len(cold_answers), 3),
        "stock_casbin_build_ms": round(stock_build_ms, 1),
        "engine_build_ms": round(engine_build_ms, 1),
        "a_stock_casbin_enforce": stats(raw_times),
        "b_engine_memo_miss": stats(miss_times),
        "c_engine_allowed": cold,
        "d_engine_allowed_warm": stats(warm_times),
        "request_memo_hit_ratio": round(info.hits / (info.hits + info.misses), 3),
        "request_memo_entries": info.currsize,
        "casbin_calls_share": round(casbin_calls / len(stream), 3),
        "timer_overhead_us": timer_overhead_us(),
        "speedup_median_c_vs_a": round(stats(raw_times)["median_us"] / cold["median_us"], 1),
        "target_median_us": TARGET_MEDIAN_US,
        "within_target": cold["median_us"] <= TARGET_MEDIAN_US,
        "seed": seed,
        "python": sys.version.split()[0],
        "casbin": metadata.version("casbin"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def report(result: dict[str, Any]) -> None:
    r = result
    print(f"rules: {r['policy_rules']:,} ({r['grants']:,} grants, {r['users']:,} users)")
    print(f"build: stock casbin {r['stock_casbin_build_ms']} ms, engine {r['engine_build_ms']} ms")
    rows = [
        ("(a) stock casbin enforce", "a_stock_casbin_enforce"),
        ("(b) engine, memo miss", "b_engine_memo_miss"),
        ("(c) engine.allowed, cold start", "c_engine_allowed"),
        ("(d) engine.allowed, warm", "d_engine_allowed_warm"),
    ]
    print(f"{'per decision (us)':34}{'n':>9}{'median':>10}{'p90':>10}{'p99':>10}")
    for label, key in rows:
        s = r[key]
        print(f"{label:34}{s['n']:>9,}{s['median_us']:>10}{s['p90_us']:>10}{s['p99_us']:>10}")
    print(
        f"(c): request memo hits {r['request_memo_hit_ratio']:.1%}, decisions reaching Casbin "
        f"{r['casbin_calls_share']:.1%}; timer overhead {r['timer_overhead_us']} us"
    )
    median = r["c_engine_allowed"]["median_us"]
    verdict = "within" if r["within_target"] else "OVER"
    print(f"(c) median {median} us: {verdict} target {TARGET_MEDIAN_US:.0f} us")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--decisions", type=int, default=200_000, help="length of the stream")
    parser.add_argument("--raw-samples", type=int, default=10_000, help="decisions for (a), (b)")
    parser.add_argument("--seed", type=int, default=20_240_601)
    # Known args only: ``python -m bench authz`` runs this file with the runner's arguments.
    args, _ = parser.parse_known_args(argv)

    result = run(args.users, args.decisions, min(args.raw_samples, args.decisions), args.seed)
    report(result)
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULT_FILE}")


if __name__ == "__main__":
    main()
