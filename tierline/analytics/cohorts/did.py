"""Difference in differences of one metric between two cohorts, with its interval.

For each customer the change ``after - before`` is taken; the estimate is the movers' mean
change minus the stayers' mean change (the same customers are seen in both windows, so this
equals ``(mean after - mean before) of movers - (mean after - mean before) of stayers``). Its
interval is Welch's: the standard error ``sqrt(s_m^2/n_m + s_s^2/n_s)`` of the two mean changes
and Student's t with the Welch-Satterthwaite degrees of freedom (Angrist & Pischke, *Mostly
Harmless Econometrics*, 2009, ch. 5; Welch, *Biometrika* 34, 1947).

A cohort smaller than ``min_size`` gives no estimate at all, only its size and the reason: an
"effect" of three customers is noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

MIN_COHORT: Final = 5
CONFIDENCE: Final = 0.95

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """One metric's difference in differences; ``effect``/``low``/``high`` are None when a
    cohort is too small (``note`` says so)."""

    metric: str
    movers: int
    stayers: int
    movers_before: float | None
    movers_after: float | None
    stayers_before: float | None
    stayers_after: float | None
    effect: float | None
    low: float | None
    high: float | None
    note: str | None = None

    @property
    def too_small(self) -> bool:
        return self.effect is None

    @property
    def clear(self) -> bool:
        """Whether the interval excludes zero (an effect, not noise)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _mean(values: Floats) -> float | None:
    return float(values.mean()) if values.size else None


def _interval(dm: Floats, ds: Floats, confidence: float) -> tuple[float, float]:
    vm = dm.var(ddof=1) / dm.size
    vs = ds.var(ddof=1) / ds.size
    se = math.sqrt(vm + vs)
    effect = float(dm.mean() - ds.mean())
    if se == 0.0:
        return effect, effect
    df = (vm + vs) ** 2 / (vm**2 / (dm.size - 1) + vs**2 / (ds.size - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return effect - half, effect + half


def difference_in_differences(
    metric: str,
    movers: tuple[Floats, Floats],
    stayers: tuple[Floats, Floats],
    *,
    min_size: int = MIN_COHORT,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """``movers`` and ``stayers`` are ``(before, after)`` arrays, one value per customer."""
    (mb, ma), (sb, sa) = movers, stayers
    if mb.shape != ma.shape or sb.shape != sa.shape:
        raise ValueError("before and after must hold one value per customer")
    means = (_mean(mb), _mean(ma), _mean(sb), _mean(sa))
    small = min(mb.size, sb.size)
    if small < max(min_size, 2):
        note = (
            f"cohort too small to estimate: {mb.size} movers and {sb.size} matched stayers "
            f"(at least {max(min_size, 2)} each are needed)"
        )
        return Estimate(metric, mb.size, sb.size, *means, None, None, None, note)
    dm, ds = ma - mb, sa - sb
    low, high = _interval(dm, ds, confidence)
    effect = float(dm.mean() - ds.mean())
    return Estimate(metric, mb.size, sb.size, *means, effect, low, high)
