"""Small closed forms under normal demand, used to check the simulation and to price cuts.

The standard normal helpers are those of ``tierline.inventory.formulas`` (the production
safety-stock formulas), re-exported under their short private names for the engines here.
Notation: k is the safety factor, G(k) = E[(Z - k)^+] the standard normal first-order loss
function, G2(k) = E[(Z - k)^+^2] / 2 the second-order one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tierline.inventory.formulas import (
    normal_cdf as _cdf,
)
from tierline.inventory.formulas import (
    normal_loss as _loss,
)
from tierline.inventory.formulas import (
    normal_loss2 as _loss2,
)
from tierline.inventory.formulas import (
    normal_pdf as _pdf,
)
from tierline.inventory.formulas import (
    normal_ppf as _ppf,
)
from tierline.inventory.formulas import (
    protection_sigma,
)

FloatArray = npt.NDArray[np.float64]

__all__ = ["_cdf", "_loss", "_loss2", "_pdf", "_ppf"]


def _expected_excess(mean: npt.ArrayLike, sd: npt.ArrayLike, level: npt.ArrayLike) -> FloatArray:
    """E[(X - level)^+] for X ~ N(mean, sd²); sd = 0 gives the deterministic value."""
    mean, sd, level = (np.asarray(v, dtype=np.float64) for v in (mean, sd, level))
    sd_safe = np.where(sd > 0, sd, 1.0)
    normal = sd_safe * _loss((level - mean) / sd_safe)
    return np.where(sd > 0, normal, np.maximum(mean - level, 0.0))


def _fill_rate_sq_textbook(
    reorder_point: npt.ArrayLike,
    order_quantity: npt.ArrayLike,
    lead_time_demand_mean: npt.ArrayLike,
    lead_time_demand_sd: npt.ArrayLike,
) -> FloatArray:
    """Continuous-review (s, Q): β = 1 - sd_L·G(k)/Q with k = (s - μ_L)/sd_L (Silver, Pyke &
    Thomas, *Inventory and Production Management in Supply Chains*, 4th ed., 2017, §6.7)."""
    s = np.asarray(reorder_point, dtype=np.float64)
    q = np.asarray(order_quantity, dtype=np.float64)
    mu = np.asarray(lead_time_demand_mean, dtype=np.float64)
    sd = np.asarray(lead_time_demand_sd, dtype=np.float64)
    return 1.0 - sd * _loss((s - mu) / sd) / q


def _fill_rate_sq_daily(
    reorder_point: float, order_quantity: float, mean: float, sd: float, lead_time_days: int
) -> float:
    """(s, nQ) reviewed every day with normal daily demand N(mean, sd²), constant lead time L
    (≥ 1) and the engine's timing: exact in steady state.

    The position after ordering is uniform on (s, s + Q] (Hadley & Whitin 1963; Zipkin,
    *Foundations of Inventory Management*, 2000, §6.2), and the units short on a day are the
    backorders after it minus those before it, with L + 1 and L days of demand since the
    position was set. Integrating over the uniform position gives
    E[short] = (1/Q)·[sd²_{L+1}·ΔG2_{L+1} - sd²_L·ΔG2_L], ΔG2_m = G2(k_m(s)) - G2(k_m(s + Q)).
    The continuous-review formula is its limit when a day's demand is small.
    """
    s, q = reorder_point, order_quantity

    def term(days: int) -> float:
        mu_m, sd_m = mean * days, sd * np.sqrt(days)
        low, high = (s - mu_m) / sd_m, (s + q - mu_m) / sd_m
        return float(sd_m * sd_m * (_loss2(low) - _loss2(high)))

    short_per_day = (term(lead_time_days + 1) - term(lead_time_days)) / q
    return 1.0 - short_per_day / mean


def _periodic_rs_daily(
    review_days: int, order_up_to: float, mean: float, sd: float, lead_time_days: int
) -> tuple[float, float]:
    """(R, S) with normal daily demand and constant lead time L, the engine's timing: exact
    (fill rate, cycle service level).

    A cycle is served by S - D(L) at its start and ends at S - D(R + L), so the shortage per
    cycle is E[(D(R+L) - S)^+] - E[(D(L) - S)^+] (Silver, Pyke & Thomas 2017, §6.9, whose
    textbook form drops the second term) and a cycle is free of stock-outs iff D(R+L) ≤ S.
    """
    protect = review_days + lead_time_days
    mu_p, sd_p = mean * protect, sd * np.sqrt(protect)
    mu_l, sd_l = mean * lead_time_days, sd * np.sqrt(lead_time_days)
    short = _expected_excess(mu_p, sd_p, order_up_to) - _expected_excess(mu_l, sd_l, order_up_to)
    fill = 1.0 - float(short) / (mean * review_days)
    csl = float(_cdf((order_up_to - mu_p) / sd_p))
    return fill, csl


def _safety_stock(
    service_factor: npt.ArrayLike,
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time_mean: npt.ArrayLike,
    lead_time_sd: npt.ArrayLike,
    review_period: npt.ArrayLike = 0.0,
) -> FloatArray:
    """k·σ over the protection interval (``formulas.protection_sigma``)."""
    z = np.asarray(service_factor, dtype=np.float64)
    sigma = protection_sigma(demand_mean, demand_sd, lead_time_mean, lead_time_sd, review_period)
    return np.asarray(z * sigma, dtype=np.float64)
