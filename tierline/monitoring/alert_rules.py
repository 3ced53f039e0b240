"""Sustained-underperformance rules over one segment's KPI series (pure).

A series is the closed periods of one segment and KPI, oldest first, each with its value, its
target in force and whether the target was met (decided exactly by the engine; ``None`` when
nothing was measurable or no target was in force, and such periods are skipped).

- ``k_of_n``: below target in at least ``k`` of the last ``n`` measured periods. It ignores one
  bad week among good ones (noise) and still fires on a run of misses.
- ``ewma``: the exponentially weighted moving average of the shortfall (target - value) with
  weight ``λ`` = 0.3, alerting when it exceeds ``EWMA_LIMIT`` (1 point); Roberts (1959),
  Montgomery, *Introduction to Statistical Quality Control*, ch. 9.2. It catches a slow drift
  that stays just below target without ever missing by much.
- ``cusum``: the one-sided tabular CUSUM ``S_t = max(0, S_{t-1} + (target - value) - K)`` with
  slack ``K`` = 0.5 point and decision interval ``H`` = 3 points (Page 1954; Montgomery
  ch. 9.1): it accumulates small persistent shortfalls and forgets isolated ones.

For lead time (lower is better) the shortfall is value - target in days, with the same
parameters read in days.

``periods_below`` is the run of consecutive misses ending at the newest measured period: the
escalation path reads it (step ``n`` once it reaches that step's ``after_periods``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RULE_LABELS = {
    "k_of_n": "k of n periods below target",
    "ewma": "EWMA drift",
    "cusum": "CUSUM drift",
}
EWMA_LAMBDA = 0.3
EWMA_LIMIT = 0.01
CUSUM_K = 0.005
CUSUM_H = 0.03
DAYS_SCALE = 100.0  # the rate limits read in days for lead time: 1 point ~ 1 day


@dataclass(frozen=True)
class PeriodResult:
    value: float | None
    target: float | None
    met: bool | None


@dataclass(frozen=True)
class Verdict:
    breached: bool
    rule: str
    periods_below: int
    misses: int
    window: int
    detail: str


def measured(series: Sequence[PeriodResult]) -> list[PeriodResult]:
    return [p for p in series if p.met is not None and p.value is not None]


def run_below(series: Sequence[PeriodResult]) -> int:
    """Consecutive misses ending at the newest measured period."""
    count = 0
    for period in reversed(measured(series)):
        if period.met:
            break
        count += 1
    return count


def k_of_n(series: Sequence[PeriodResult], k: int, n: int) -> Verdict:
    window = measured(series)[-n:]
    misses = sum(1 for p in window if not p.met)
    return Verdict(
        misses >= k,
        "k_of_n",
        run_below(series),
        misses,
        len(window),
        f"below target in {misses} of the last {len(window)} periods (alert at {k} of {n})",
    )


def _shortfalls(series: Sequence[PeriodResult], lower_is_better: bool) -> list[float]:
    out = []
    for p in measured(series):
        assert p.value is not None and p.target is not None
        gap = p.value - p.target if lower_is_better else p.target - p.value
        out.append(gap / DAYS_SCALE if lower_is_better else gap)
    return out


def ewma(series: Sequence[PeriodResult], lower_is_better: bool = False) -> Verdict:
    level = 0.0
    gaps = _shortfalls(series, lower_is_better)
    for gap in gaps:
        level = EWMA_LAMBDA * gap + (1 - EWMA_LAMBDA) * level
    return Verdict(
        bool(gaps) and level > EWMA_LIMIT,
        "ewma",
        run_below(series),
        sum(1 for g in gaps if g > 0),
        len(gaps),
        f"smoothed shortfall {level * 100:.1f} points (alert above {EWMA_LIMIT * 100:.0f})",
    )


def cusum(series: Sequence[PeriodResult], lower_is_better: bool = False) -> Verdict:
    total = 0.0
    gaps = _shortfalls(series, lower_is_better)
    for gap in gaps:
        total = max(0.0, total + gap - CUSUM_K)
    return Verdict(
        total > CUSUM_H,
        "cusum",
        run_below(series),
        sum(1 for g in gaps if g > 0),
        len(gaps),
        f"accumulated shortfall {total * 100:.1f} points (alert above {CUSUM_H * 100:.0f})",
    )


def evaluate(
    series: Sequence[PeriodResult], k: int, n: int, drift: str, lower_is_better: bool = False
) -> list[Verdict]:
    """The k-of-n verdict, and the drift verdict when the definition asks for one."""
    verdicts = [k_of_n(series, k, n)]
    if drift == "ewma":
        verdicts.append(ewma(series, lower_is_better))
    elif drift == "cusum":
        verdicts.append(cusum(series, lower_is_better))
    return verdicts
