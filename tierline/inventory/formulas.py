"""Safety stock, reorder points and what they are expected to deliver: pure, vectorised maths.

Every function takes numpy arrays (or scalars) and returns arrays, so a policy run over a
million SKU-locations and the calculator for one share the same code path.

Notation (Silver, Pyke & Thomas, *Inventory and Production Management in Supply Chains*, 4th
ed., 2017, ch. 6; Chopra & Meindl, *Supply Chain Management*, 6th ed., 2016, ch. 12):

* d, σd — mean and standard deviation of demand per period;
* L, σL — mean and standard deviation of the lead time, in periods;
* R — the review period (0 for continuous review);
* σ = √((L + R)·σd² + d²·σL²) — demand over the protection interval L + R;
* k — the safety factor, SS = k·σ;
* G(k) = E[(Z − k)⁺] = φ(k) − k·(1 − Φ(k)) — the standard normal loss function.

A cycle-service-level (type 1) target α gives k = Φ⁻¹(α). A fill-rate (type 2) target β gives k
from G(k) = (1 − β)·Q/σ, where Q is the quantity a replenishment cycle serves. That k may be
negative (a big Q already delivers the fill rate); flooring it at zero is an explicit rule of the
policy, recorded on the result as ``k_floored``. A 100 % target needs infinite stock under any
unbounded demand distribution and a very high one may need an absurd k: both are capped at
``k_max`` and flagged, never silently.

Intermittent and lumpy items use a gamma distribution with the same mean and variance over the
protection interval instead of the normal (Silver, Pyke & Thomas 2017, §6.11 and app. III): it
has no negative demand and a right skew, and its quantile and loss function are closed forms,
so it vectorises like the normal. Its reorder points are rounded up to whole units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

import numpy as np
import numpy.typing as npt
from scipy.special import gammainc, gammaincc, gammaincinv, ndtr, ndtri

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
DEFAULT_K_MAX = 4.0  # Φ(4) = 0.99997: beyond it the normal tail is a fiction of the model


class PolicyType(IntEnum):
    """How a SKU-location is replenished."""

    CONTINUOUS_SQ = 0  # (s, Q): order Q when the position falls to s
    PERIODIC_RS = 1  # (R, S): every R periods order up to S
    MIN_MAX = 2  # (s, S) reviewed every R periods: below min, order up to max = min + Q


class ServiceMeasure(IntEnum):
    """What the target promises."""

    CYCLE_SERVICE_LEVEL = 0  # type 1: probability of no stock-out in a cycle
    FILL_RATE = 1  # type 2: share of demand served from stock


class Distribution(IntEnum):
    """The distribution of demand over the protection interval."""

    NORMAL = 0
    GAMMA = 1


class Flag(IntFlag):
    """Why a result is not the plain formula; each has a sentence in ``FLAG_REASONS``."""

    NONE = 0
    TARGET_INVALID = 1
    TARGET_100_CAPPED = 2
    UNATTAINABLE_CAPPED = 4
    K_FLOORED = 8
    NO_DEMAND = 16
    NEGATIVE_DEMAND = 32
    NO_VARIABILITY = 64
    FLOOR_APPLIED = 128
    CAP_APPLIED = 256
    INVALID_INPUT = 512
    LEAD_TIME_PLANNED = 1024
    LEAD_TIME_MISSING = 2048
    UNIT_WITHOUT_CONVERSION = 4096
    NO_POLICY = 8192
    LEAD_TIME_LOCATION_LANE = 16384


FLAG_REASONS: dict[Flag, str] = {
    Flag.TARGET_INVALID: "The target is not a share between 0 and 1: no policy computed.",
    Flag.TARGET_100_CAPPED: (
        "A 100 % target needs unbounded stock; the safety factor is capped at k_max."
    ),
    Flag.UNATTAINABLE_CAPPED: (
        "The target needs a safety factor above k_max with this order quantity and "
        "variability; capped at k_max, so the expected service is below the target."
    ),
    Flag.K_FLOORED: (
        "The order quantity alone delivers the fill rate (k < 0); the policy floors k at 0."
    ),
    Flag.NO_DEMAND: "No demand in the history: safety stock and reorder point are 0.",
    Flag.NEGATIVE_DEMAND: "Net demand is negative (returns exceed sales): no policy computed.",
    Flag.NO_VARIABILITY: "Demand and lead time show no variability: no safety stock is needed.",
    Flag.FLOOR_APPLIED: "The safety stock was raised to the policy's floor.",
    Flag.CAP_APPLIED: "The safety stock was lowered to the policy's cap.",
    Flag.INVALID_INPUT: "A lead time, review period or order quantity is missing or negative.",
    Flag.LEAD_TIME_PLANNED: (
        "Too few lead-time observations on the lane: the planned lead time is used, with an "
        "SD of the policy's fall-back share of it."
    ),
    Flag.LEAD_TIME_MISSING: (
        "No lead-time observations and no planned lead time for the lane: no policy computed."
    ),
    Flag.UNIT_WITHOUT_CONVERSION: (
        "Order lines in a unit without a conversion to the base unit: no policy computed."
    ),
    Flag.NO_POLICY: "The policy document has no entry for the segment and no default.",
    Flag.LEAD_TIME_LOCATION_LANE: (
        "No lead-time observations of this SKU here: the location's most observed lane is used."
    ),
}

# Rows carrying one of these get no numbers at all (NaN): nothing is computed on bad input.
REFUSED = (
    Flag.TARGET_INVALID
    | Flag.NEGATIVE_DEMAND
    | Flag.INVALID_INPUT
    | Flag.LEAD_TIME_MISSING
    | Flag.UNIT_WITHOUT_CONVERSION
    | Flag.NO_POLICY
)


def flag_names(flags: int) -> list[str]:
    """The lower-case names of the flags set in ``flags``, in a fixed order."""
    return [f.name.lower() for f in Flag if f and f.name and flags & f]


# --- the standard normal ------------------------------------------------------------------


def normal_pdf(k: npt.ArrayLike) -> FloatArray:
    """φ(k)."""
    x = np.asarray(k, dtype=np.float64)
    return np.asarray(_INV_SQRT_2PI * np.exp(-0.5 * x * x), dtype=np.float64)


def normal_cdf(k: npt.ArrayLike) -> FloatArray:
    """Φ(k)."""
    return np.asarray(ndtr(np.asarray(k, dtype=np.float64)), dtype=np.float64)


def normal_ppf(p: npt.ArrayLike) -> FloatArray:
    """Φ⁻¹(p)."""
    return np.asarray(ndtri(np.asarray(p, dtype=np.float64)), dtype=np.float64)


def normal_loss(k: npt.ArrayLike) -> FloatArray:
    """G(k) = E[(Z − k)⁺] = φ(k) − k·(1 − Φ(k)); 1 − Φ(k) is taken as Φ(−k) so the upper tail
    keeps its precision."""
    x = np.asarray(k, dtype=np.float64)
    return np.asarray(normal_pdf(x) - x * ndtr(-x), dtype=np.float64)


def normal_loss2(k: npt.ArrayLike) -> FloatArray:
    """G2(k) = ½·E[((Z − k)⁺)²] = ½·[(k² + 1)·(1 − Φ(k)) − k·φ(k)], so that d/dk G2 = −G."""
    x = np.asarray(k, dtype=np.float64)
    return np.asarray(0.5 * ((x * x + 1.0) * ndtr(-x) - x * normal_pdf(x)), dtype=np.float64)


# --- the protection interval -------------------------------------------------------------


def protection_sigma(
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time_mean: npt.ArrayLike,
    lead_time_sd: npt.ArrayLike,
    review_period: npt.ArrayLike = 0.0,
) -> FloatArray:
    """σ = √((L + R)·σd² + d²·σL²): demand and lead-time variability over the protection
    interval, independent demand per period (Silver, Pyke & Thomas 2017, eq. 6.23)."""
    d, sd_d, lt, sd_lt, r = (
        np.asarray(v, dtype=np.float64)
        for v in (demand_mean, demand_sd, lead_time_mean, lead_time_sd, review_period)
    )
    return np.asarray(np.sqrt((lt + r) * sd_d * sd_d + d * d * sd_lt * sd_lt), dtype=np.float64)


def variance_shares(
    demand_mean: npt.ArrayLike,
    demand_sd: npt.ArrayLike,
    lead_time_mean: npt.ArrayLike,
    lead_time_sd: npt.ArrayLike,
    review_period: npt.ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """The demand share and the lead-time share of σ² (they add to 1; both 0 when σ = 0).
    Safety stock is proportional to σ, not σ², so these say which variability drives it."""
    d, sd_d, lt, sd_lt, r = (
        np.asarray(v, dtype=np.float64)
        for v in (demand_mean, demand_sd, lead_time_mean, lead_time_sd, review_period)
    )
    demand_part = (lt + r) * sd_d * sd_d
    lead_part = d * d * sd_lt * sd_lt
    total = demand_part + lead_part
    safe = np.where(total > 0, total, 1.0)
    return (
        np.asarray(np.where(total > 0, demand_part / safe, 0.0), dtype=np.float64),
        np.asarray(np.where(total > 0, lead_part / safe, 0.0), dtype=np.float64),
    )


def economic_order_quantity(
    annual_demand: npt.ArrayLike, order_cost: npt.ArrayLike, holding_cost: npt.ArrayLike
) -> FloatArray:
    """EOQ = √(2·D·S/H) with D units a year, S per order and H per unit and year (Harris 1913;
    Silver, Pyke & Thomas 2017, eq. 4.4). 0 where there is no demand or no holding cost."""
    dem, s, h = (np.asarray(v, dtype=np.float64) for v in (annual_demand, order_cost, holding_cost))
    ok = (dem > 0) & (s > 0) & (h > 0)
    return np.asarray(
        np.where(ok, np.sqrt(2.0 * np.where(ok, dem * s / np.where(h > 0, h, 1.0), 0.0)), 0.0),
        dtype=np.float64,
    )


# --- the safety factor -------------------------------------------------------------------


def k_from_cycle_service_level(target: npt.ArrayLike) -> FloatArray:
    """k = Φ⁻¹(α): ±inf at 0 and 1 (the caller caps), NaN outside [0, 1]."""
    return normal_ppf(target)


def k_from_fill_rate(
    target: npt.ArrayLike,
    cycle_quantity: npt.ArrayLike,
    sigma: npt.ArrayLike,
    k_max: float = DEFAULT_K_MAX,
) -> FloatArray:
    """k with G(k) = (1 − β)·Q/σ (Silver, Pyke & Thomas 2017, eq. 6.18).

    G falls strictly from +∞ to 0, so the root is unique; it is bracketed by
    [−t − 1, k_max] (G(k) > −k gives G(−t − 1) > t) and found by Newton steps (G′ = Φ − 1)
    that fall back to bisection when they leave the bracket. Rows whose root lies above
    ``k_max`` (including β = 1) get +inf: the caller caps and flags them. Rows with σ = 0 or
    Q ≤ 0 get NaN.
    """
    beta, q, sd = (np.asarray(v, dtype=np.float64) for v in (target, cycle_quantity, sigma))
    beta, q, sd = np.broadcast_arrays(beta, q, sd)
    valid = (sd > 0) & (q > 0) & (beta >= 0) & (beta <= 1)
    t = np.where(valid, (1.0 - beta) * q / np.where(sd > 0, sd, 1.0), 1.0)
    above = valid & (normal_loss(k_max) > t)
    lo = -t - 1.0
    hi = np.full_like(t, k_max)
    k = np.clip(np.zeros_like(t), lo, hi)
    for _ in range(100):
        excess = normal_loss(k) - t
        lo = np.where(excess > 0, k, lo)  # G(k) > t: the root lies above k
        hi = np.where(excess > 0, hi, k)
        slope = normal_cdf(k) - 1.0
        newton = k - excess / np.where(slope < -1e-300, slope, -1e-300)
        inside = (newton > lo) & (newton < hi)
        step = np.where(inside, newton, 0.5 * (lo + hi))
        done = np.abs(step - k) <= 1e-12 * np.maximum(1.0, np.abs(k))
        k = step
        if bool(np.all(done | ~valid | above)):
            break
    return np.asarray(np.where(valid, np.where(above, np.inf, k), np.nan), dtype=np.float64)


def fill_rate_of_k(
    k: npt.ArrayLike, cycle_quantity: npt.ArrayLike, sigma: npt.ArrayLike
) -> FloatArray:
    """β = 1 − σ·G(k)/Q, clipped to [0, 1]; 1 where σ = 0 and k ≥ 0 (Silver, Pyke & Thomas
    2017, eq. 6.17; the textbook form, which counts backorders of an earlier cycle again when
    k is very negative, hence the clip)."""
    kk, q, sd = (np.asarray(v, dtype=np.float64) for v in (k, cycle_quantity, sigma))
    short = sd * normal_loss(np.where(sd > 0, kk, 0.0))
    fill = 1.0 - short / np.where(q > 0, q, np.nan)
    return np.asarray(np.clip(np.where(sd > 0, fill, 1.0), 0.0, 1.0), dtype=np.float64)


# --- the gamma distribution for intermittent and lumpy demand ----------------------------


def _gamma_parameters(mean: FloatArray, sd: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Shape α = μ²/σ² and scale θ = σ²/μ (1 where undefined)."""
    ok = (mean > 0) & (sd > 0)
    var = np.where(ok, sd * sd, 1.0)
    mu = np.where(ok, mean, 1.0)
    return np.where(ok, mu * mu / var, 1.0), np.where(ok, var / mu, 1.0)


def gamma_loss(level: npt.ArrayLike, mean: npt.ArrayLike, sd: npt.ArrayLike) -> FloatArray:
    """E[(X − s)⁺] for X gamma with the given mean and SD:
    α·θ·Q(α + 1, s/θ) − s·Q(α, s/θ), Q the regularised upper incomplete gamma."""
    s, mu, sdv = (np.asarray(v, dtype=np.float64) for v in (level, mean, sd))
    shape, scale = _gamma_parameters(mu, sdv)
    x = np.maximum(s, 0.0) / scale
    loss = shape * scale * gammaincc(shape + 1.0, x) - np.maximum(s, 0.0) * gammaincc(shape, x)
    # below zero the whole distribution lies above s
    return np.asarray(np.where(s < 0, mu - s, np.maximum(loss, 0.0)), dtype=np.float64)


def gamma_cdf(level: npt.ArrayLike, mean: npt.ArrayLike, sd: npt.ArrayLike) -> FloatArray:
    """P(X ≤ s) for X gamma with the given mean and SD."""
    s, mu, sdv = (np.asarray(v, dtype=np.float64) for v in (level, mean, sd))
    shape, scale = _gamma_parameters(mu, sdv)
    return np.asarray(np.where(s <= 0, 0.0, gammainc(shape, np.maximum(s, 0.0) / scale)))


def gamma_level_for_cycle_service(
    target: npt.ArrayLike, mean: npt.ArrayLike, sd: npt.ArrayLike
) -> FloatArray:
    """The level s with P(X ≤ s) = α (continuous; the caller rounds up to whole units)."""
    a, mu, sdv = (np.asarray(v, dtype=np.float64) for v in (target, mean, sd))
    shape, scale = _gamma_parameters(mu, sdv)
    return np.asarray(gammaincinv(shape, a) * scale, dtype=np.float64)


def gamma_level_for_fill_rate(
    target: npt.ArrayLike,
    cycle_quantity: npt.ArrayLike,
    mean: npt.ArrayLike,
    sd: npt.ArrayLike,
    upper: npt.ArrayLike,
) -> FloatArray:
    """The level s with E[(X − s)⁺] = (1 − β)·Q, by bisection on [0, upper] (the loss falls
    with s); +inf where even ``upper`` leaves too much short."""
    beta, q, mu, sdv, hi = (
        np.asarray(v, dtype=np.float64) for v in (target, cycle_quantity, mean, sd, upper)
    )
    beta, q, mu, sdv, hi = np.broadcast_arrays(beta, q, mu, sdv, hi)
    allowed = (1.0 - beta) * q
    above = gamma_loss(hi, mu, sdv) > allowed
    lo = np.zeros_like(mu)
    hi = hi.copy()
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        too_short = gamma_loss(mid, mu, sdv) > allowed
        lo = np.where(too_short, mid, lo)
        hi = np.where(too_short, hi, mid)
    return np.asarray(np.where(above, np.inf, hi), dtype=np.float64)


# --- a whole policy -----------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInputs:
    """One row per SKU-location; every field an array of the same length (scalars broadcast).

    ``order_quantity`` is Q for (s, Q) and max − min for min/max; (R, S) ignores it and
    serves d·R a cycle. ``review_period`` is R (0 for continuous review). The floors and caps
    are on safety stock, in units and in days of cover (periods × d); NaN means none.
    """

    policy_type: npt.ArrayLike
    measure: npt.ArrayLike
    target: npt.ArrayLike
    demand_mean: npt.ArrayLike
    demand_sd: npt.ArrayLike
    lead_time_mean: npt.ArrayLike
    lead_time_sd: npt.ArrayLike
    review_period: npt.ArrayLike = 0.0
    order_quantity: npt.ArrayLike = 0.0
    distribution: npt.ArrayLike = Distribution.NORMAL
    floor_units: npt.ArrayLike = np.nan
    floor_periods: npt.ArrayLike = np.nan
    cap_units: npt.ArrayLike = np.nan
    cap_periods: npt.ArrayLike = np.nan
    flags: npt.ArrayLike = 0  # flags found before the maths (statistics); refusals carry over


@dataclass(frozen=True)
class PolicyResults:
    """The numbers of a policy, row for row with its inputs."""

    sigma: FloatArray
    protection_mean: FloatArray
    cycle_quantity: FloatArray
    k: FloatArray
    safety_stock: FloatArray
    reorder_point: FloatArray
    order_up_to: FloatArray
    expected_fill_rate: FloatArray
    expected_cycle_service_level: FloatArray
    expected_on_hand: FloatArray
    demand_share: FloatArray
    lead_time_share: FloatArray
    flags: IntArray


def _arrays(inputs: PolicyInputs) -> dict[str, np.ndarray]:
    names = list(PolicyInputs.__dataclass_fields__)
    values = np.broadcast_arrays(*(np.asarray(getattr(inputs, n)) for n in names))
    return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, values, strict=True)}


def compute_policy(
    inputs: PolicyInputs, k_max: float = DEFAULT_K_MAX, floor_k_at_zero: bool = True
) -> PolicyResults:
    """Safety stock, reorder point, order-up-to level and expected service for every row.

    Order of the rules: k from the target (capped at ``k_max``, flagged); k floored at 0 when
    the policy says so (flagged); safety stock bounded by its floor then its cap (flagged); the
    expected fill rate, cycle service level and on-hand are those of the final numbers.
    """
    with np.errstate(all="ignore"):  # NaN and inf are handled row by row below
        return _compute(_arrays(inputs), k_max, floor_k_at_zero)


def _compute(a: dict[str, np.ndarray], k_max: float, floor_k_at_zero: bool) -> PolicyResults:
    policy, measure, target = a["policy_type"], a["measure"], a["target"]
    d, sd_d, lt, sd_lt = a["demand_mean"], a["demand_sd"], a["lead_time_mean"], a["lead_time_sd"]
    review, q_in, gamma = a["review_period"], a["order_quantity"], a["distribution"] == 1
    n = d.shape[0] if d.ndim else 1
    flags = a["flags"].astype(np.int64)

    def mark(where: np.ndarray, flag: Flag) -> None:
        flags[...] = np.where(where, flags | int(flag), flags)

    periodic = policy == PolicyType.PERIODIC_RS
    r = np.where(policy == PolicyType.CONTINUOUS_SQ, 0.0, review)
    bad_input = (
        ~np.isfinite(lt) | (lt < 0) | ~np.isfinite(sd_lt) | (sd_lt < 0) | ~np.isfinite(r) | (r < 0)
    )
    bad_input |= ~np.isfinite(d) | ~np.isfinite(sd_d) | (sd_d < 0)
    bad_input |= periodic & (r <= 0)
    bad_input |= ~periodic & (d > 0) & ~(q_in > 0)
    # Without demand nothing is computed, so a missing lead time does not refuse the row.
    mark(bad_input & (d != 0) & ((flags & int(REFUSED)) == 0), Flag.INVALID_INPUT)
    # Without demand there is nothing to protect: the target does not matter.
    mark((d != 0) & (~(target > 0) | ~(target <= 1)), Flag.TARGET_INVALID)
    mark(d < 0, Flag.NEGATIVE_DEMAND)
    no_demand = d == 0
    mark(no_demand, Flag.NO_DEMAND)

    d_ok = np.where(d > 0, d, 0.0)
    sigma = protection_sigma(d_ok, sd_d, lt, sd_lt, r)
    mark((sigma == 0) & ~no_demand, Flag.NO_VARIABILITY)
    mu_p = d_ok * (lt + r)
    q = np.where(periodic, d_ok * r, np.where(q_in > 0, q_in, 0.0))
    share_d, share_l = variance_shares(d_ok, sd_d, lt, sd_lt, r)

    live = (flags & int(REFUSED | Flag.NO_DEMAND)) == 0
    varied = live & (sigma > 0)
    fill = measure == ServiceMeasure.FILL_RATE
    tgt = np.where(varied, target, 0.5)
    sig = np.where(varied, sigma, 1.0)
    mark(varied & (target >= 1), Flag.TARGET_100_CAPPED)

    # Normal: k from the target.
    k_csl = k_from_cycle_service_level(np.where(fill, 0.5, tgt))
    k_fr = k_from_fill_rate(np.where(fill, tgt, 0.5), np.where(q > 0, q, 1.0), sig, k_max)
    k = np.where(fill, k_fr, k_csl)
    # Gamma: the level itself, expressed as k to share the capping and flooring.
    if bool(np.any(gamma & varied)):
        upper = mu_p + k_max * sigma
        lvl = np.where(
            fill,
            gamma_level_for_fill_rate(tgt, np.where(q > 0, q, 1.0), mu_p, sig, upper),
            gamma_level_for_cycle_service(np.where(fill, 0.5, tgt), mu_p, sig),
        )
        lvl = np.where(np.isfinite(lvl), np.ceil(lvl - 1e-9), lvl)  # whole units
        k = np.where(gamma, (lvl - mu_p) / sig, k)
    over = varied & ~(k <= k_max)
    mark(over & (target < 1), Flag.UNATTAINABLE_CAPPED)
    k = np.where(over, k_max, k)
    floored = varied & (k < 0) & floor_k_at_zero
    mark(floored, Flag.K_FLOORED)
    k = np.where(floored, 0.0, k)
    k = np.where(varied, k, 0.0)

    ss = k * sigma
    floor = np.fmax(a["floor_units"], a["floor_periods"] * d_ok)
    cap = np.fmin(a["cap_units"], a["cap_periods"] * d_ok)
    raise_ = live & (floor > ss)
    mark(raise_, Flag.FLOOR_APPLIED)
    ss = np.where(raise_, floor, ss)
    lower = live & (cap < ss)
    mark(lower, Flag.CAP_APPLIED)
    ss = np.where(lower, cap, ss)
    k = np.where(varied, ss / sig, k)

    rop = mu_p + ss
    order_up_to = np.where(periodic, rop, rop + q)
    short = sigma * normal_loss(np.where(varied, k, 0.0))
    if bool(np.any(gamma)):
        short = np.where(gamma, gamma_loss(rop, mu_p, sig), short)
    short = np.where(varied, short, np.maximum(mu_p - rop, 0.0))
    fill_rate = np.clip(1.0 - short / np.where(q > 0, q, np.nan), 0.0, 1.0)
    csl = normal_cdf(k)
    if bool(np.any(gamma)):
        csl = np.where(gamma, gamma_cdf(rop, mu_p, sig), csl)
    csl = np.where(varied, csl, np.where(ss >= 0, 1.0, 0.0))
    on_hand = ss + short + q / 2.0

    refused = (flags & int(REFUSED)) != 0
    idle = no_demand & ~refused

    def out(values: np.ndarray, idle_value: float = 0.0) -> FloatArray:
        v = np.where(refused, np.nan, np.where(idle, idle_value, values))
        return np.asarray(np.broadcast_to(v, (n,)) if v.ndim == 0 else v, dtype=np.float64)

    return PolicyResults(
        sigma=out(sigma),
        protection_mean=out(mu_p),
        cycle_quantity=out(q),
        k=out(k),
        safety_stock=out(ss),
        reorder_point=out(rop),
        order_up_to=out(order_up_to),
        expected_fill_rate=out(fill_rate, np.nan),
        expected_cycle_service_level=out(csl, np.nan),
        expected_on_hand=out(on_hand),
        demand_share=out(share_d),
        lead_time_share=out(share_l),
        flags=np.asarray(np.broadcast_to(flags, (n,)) if flags.ndim == 0 else flags),
    )
