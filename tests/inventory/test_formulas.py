"""Safety-stock formulas: textbook worked examples and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tierline.inventory.formulas import (
    Distribution,
    Flag,
    PolicyInputs,
    PolicyType,
    ServiceMeasure,
    compute_policy,
    fill_rate_of_k,
    flag_names,
    gamma_level_for_cycle_service,
    gamma_loss,
    k_from_cycle_service_level,
    k_from_fill_rate,
    normal_loss,
    protection_sigma,
    variance_shares,
)

SQ, RS, MINMAX = PolicyType.CONTINUOUS_SQ, PolicyType.PERIODIC_RS, PolicyType.MIN_MAX
CSL, FR = ServiceMeasure.CYCLE_SERVICE_LEVEL, ServiceMeasure.FILL_RATE


def one(**kw: float) -> dict[str, float]:
    """Compute one row and return its numbers as floats."""
    r = compute_policy(PolicyInputs(**kw))  # type: ignore[arg-type]
    return {f: float(np.asarray(getattr(r, f))[0]) for f in r.__dataclass_fields__}


# --- Chopra & Meindl, Supply Chain Management, 6th ed. (2016), ch. 12 ---------------------


def test_chopra_meindl_continuous_review_cycle_service_level() -> None:
    """Example 12-3 (Lego at Walmart): weekly demand N(2,500, 500²), L = 2 weeks, CSL 90 %:
    σ_L = 707, SS = 1.2816 × 707 = 906 boxes."""
    r = one(
        policy_type=SQ, measure=CSL, target=0.90, demand_mean=2500, demand_sd=500,
        lead_time_mean=2, lead_time_sd=0, order_quantity=10000,
    )  # fmt: skip
    assert r["sigma"] == pytest.approx(707.1, abs=0.1)
    assert round(r["safety_stock"]) == 906
    assert r["reorder_point"] == pytest.approx(5000 + 906, abs=0.5)
    assert r["expected_cycle_service_level"] == pytest.approx(0.90)


def test_chopra_meindl_fill_rate_of_a_given_policy() -> None:
    """Example 12-2: same demand, Q = 10,000, ROP = 6,000 (SS = 1,000): ESC = 25.13 and fill
    rate 1 − 25.13/10,000 = 0.9975."""
    sigma = float(protection_sigma(2500, 500, 2, 0))
    k = 1000 / sigma
    assert sigma * float(normal_loss(k)) == pytest.approx(25.13, abs=0.01)
    assert float(fill_rate_of_k(k, 10000, sigma)) == pytest.approx(0.9975, abs=1e-4)


def test_chopra_meindl_safety_stock_for_a_fill_rate() -> None:
    """Example 12-5: same demand, Q = 10,000, fill rate 97.5 %: ESC = 250, SS = 67 boxes."""
    r = one(
        policy_type=SQ, measure=FR, target=0.975, demand_mean=2500, demand_sd=500,
        lead_time_mean=2, lead_time_sd=0, order_quantity=10000,
    )  # fmt: skip
    assert round(r["safety_stock"]) == 67
    assert r["expected_fill_rate"] == pytest.approx(0.975, abs=1e-9)


def test_chopra_meindl_lead_time_variability() -> None:
    """Example 12-6 (Dell and Lite-On): daily demand N(2,500, 500²), lead time 7 ± 7 days,
    CSL 90 %: σ = √(7·500² + 2,500²·7²) = 17,550, SS = 22,491 units."""
    r = one(
        policy_type=SQ, measure=CSL, target=0.90, demand_mean=2500, demand_sd=500,
        lead_time_mean=7, lead_time_sd=7, order_quantity=20000,
    )  # fmt: skip
    assert r["sigma"] == pytest.approx(17550, abs=1)
    assert r["safety_stock"] == pytest.approx(22491, abs=2)
    assert r["lead_time_share"] > 0.99  # lead-time variability drives this buffer


def test_chopra_meindl_periodic_review() -> None:
    """Example 12-8: weekly demand N(2,500, 500²), L = 2, review every T = 4 weeks, CSL 90 %:
    σ_{T+L} = 1,225, SS = 1,570, order-up-to level 16,570."""
    r = one(
        policy_type=RS, measure=CSL, target=0.90, demand_mean=2500, demand_sd=500,
        lead_time_mean=2, lead_time_sd=0, review_period=4,
    )  # fmt: skip
    assert r["sigma"] == pytest.approx(1224.7, abs=0.1)
    assert round(r["safety_stock"]) == 1570
    assert round(r["order_up_to"]) == 16570
    assert r["cycle_quantity"] == pytest.approx(10000)


# --- Silver, Pyke & Thomas (2017), §6.7: the table of G(k) --------------------------------


@pytest.mark.parametrize(
    ("k", "g"), [(0.0, 0.3989), (0.5, 0.1978), (1.0, 0.0833), (1.5, 0.0293), (2.0, 0.0085)]
)
def test_normal_loss_table(k: float, g: float) -> None:
    """Values of G(k) as tabulated in Silver, Pyke & Thomas, app. II."""
    assert float(normal_loss(k)) == pytest.approx(g, abs=1e-4)


# --- rules and bad input -----------------------------------------------------------------


def test_hundred_percent_and_unattainable_targets_are_capped_and_flagged() -> None:
    base = dict(demand_mean=10, demand_sd=5, lead_time_mean=4, lead_time_sd=1, order_quantity=1)
    full = one(policy_type=SQ, measure=CSL, target=1.0, **base)
    assert full["k"] == 4.0
    assert Flag(int(full["flags"])) & Flag.TARGET_100_CAPPED
    hard = one(policy_type=SQ, measure=FR, target=0.999999999, **base)
    assert hard["k"] == 4.0
    assert Flag(int(hard["flags"])) & Flag.UNATTAINABLE_CAPPED
    assert hard["expected_fill_rate"] < 0.999999999


def test_negative_k_is_floored_by_rule_and_recorded() -> None:
    kw = dict(
        policy_type=SQ, measure=FR, target=0.9, demand_mean=10, demand_sd=2,
        lead_time_mean=1, lead_time_sd=0, order_quantity=500,
    )  # fmt: skip
    assert float(k_from_fill_rate(0.9, 500, 2.0)) < -20
    r = one(**kw)
    assert r["k"] == 0.0 and r["safety_stock"] == 0.0
    assert "k_floored" in flag_names(int(r["flags"]))
    raw = compute_policy(PolicyInputs(**kw), floor_k_at_zero=False)  # type: ignore[arg-type]
    assert float(raw.k[0]) < 0 and float(raw.safety_stock[0]) < 0


def test_bad_rows_are_refused_without_touching_the_good_ones() -> None:
    r = compute_policy(
        PolicyInputs(
            policy_type=np.array([SQ, SQ, SQ, SQ, SQ]),
            measure=CSL,
            target=np.array([0.95, 0.95, 1.2, 0.95, 0.95]),
            demand_mean=np.array([10.0, -1.0, 10.0, 0.0, 10.0]),
            demand_sd=3.0,
            lead_time_mean=np.array([5.0, 5.0, 5.0, 5.0, np.nan]),
            lead_time_sd=1.0,
            order_quantity=50.0,
        )
    )
    names = [flag_names(int(f)) for f in r.flags]
    assert names == [[], ["negative_demand"], ["target_invalid"], ["no_demand"], ["invalid_input"]]
    assert np.isfinite(r.safety_stock[0]) and np.isnan(r.safety_stock[[1, 2, 4]]).all()
    assert r.safety_stock[3] == 0 and r.reorder_point[3] == 0


def test_floors_and_caps_in_units_and_days_of_cover() -> None:
    base = dict(
        policy_type=SQ, measure=CSL, target=0.95, demand_mean=10, demand_sd=3,
        lead_time_mean=4, lead_time_sd=0, order_quantity=50,
    )  # fmt: skip
    raised = one(floor_periods=3.0, **base)  # 3 days of cover = 30 units > 1.645·6
    assert raised["safety_stock"] == 30 and "floor_applied" in flag_names(int(raised["flags"]))
    capped = one(cap_units=5.0, **base)
    assert capped["safety_stock"] == 5 and capped["k"] == pytest.approx(5 / 6)


def test_min_max_is_reorder_point_plus_quantity() -> None:
    r = one(
        policy_type=MINMAX, measure=CSL, target=0.95, demand_mean=10, demand_sd=3,
        lead_time_mean=4, lead_time_sd=0, review_period=1, order_quantity=40,
    )  # fmt: skip
    assert r["sigma"] == pytest.approx(3 * np.sqrt(5))
    assert r["order_up_to"] == pytest.approx(r["reorder_point"] + 40)


def test_gamma_for_lumpy_demand_matches_scipy_and_rounds_up() -> None:
    mean, sd = 3.0, 4.0  # lumpy: SD above the mean, a normal would put mass below zero
    level = float(gamma_level_for_cycle_service(0.95, mean, sd))
    ref = stats.gamma(a=(mean / sd) ** 2, scale=sd * sd / mean)
    assert level == pytest.approx(ref.ppf(0.95), rel=1e-9)
    loss = float(gamma_loss(5.0, mean, sd))
    numeric = ref.expect(lambda x: max(x - 5.0, 0.0), lb=0, ub=np.inf)
    assert loss == pytest.approx(numeric, rel=1e-6)
    r = one(
        policy_type=SQ, measure=CSL, target=0.95, demand_mean=1.0, demand_sd=np.sqrt(16 / 3),
        lead_time_mean=3, lead_time_sd=0, order_quantity=10, distribution=Distribution.GAMMA,
    )  # fmt: skip
    assert r["reorder_point"] == np.ceil(ref.ppf(0.95))
    assert r["expected_cycle_service_level"] >= 0.95


# --- properties --------------------------------------------------------------------------

targets = st.floats(0.5, 0.999)
sds = st.floats(0.01, 1e4)


@given(a=targets, b=targets, sigma=sds)
def test_cycle_service_factor_is_monotonic_in_the_target(a: float, b: float, sigma: float) -> None:
    lo, hi = sorted((a, b))
    assert k_from_cycle_service_level(lo) * sigma <= k_from_cycle_service_level(hi) * sigma


@settings(max_examples=200)
@given(beta=st.floats(0.5, 0.9999), q=st.floats(0.1, 1e5), sigma=st.floats(0.1, 1e5))
def test_fill_rate_solve_round_trips(beta: float, q: float, sigma: float) -> None:
    k = float(k_from_fill_rate(beta, q, sigma, k_max=8.0))
    if np.isfinite(k):
        assert float(fill_rate_of_k(k, q, sigma)) == pytest.approx(beta, abs=1e-9)
        assert float(normal_loss(k)) == pytest.approx((1 - beta) * q / sigma, rel=1e-9)
    else:
        assert float(normal_loss(8.0)) > (1 - beta) * q / sigma


@given(a=targets, b=targets, s1=sds, s2=sds, q=st.floats(1, 1e5), measure=st.sampled_from([0, 1]))
def test_safety_stock_is_monotonic_in_target_and_sigma(
    a: float, b: float, s1: float, s2: float, q: float, measure: int
) -> None:
    (lo_t, hi_t), (lo_s, hi_s) = sorted((a, b)), sorted((s1, s2))
    r = compute_policy(
        PolicyInputs(
            policy_type=SQ,
            measure=measure,
            target=np.array([lo_t, hi_t, hi_t]),
            demand_mean=100.0,
            demand_sd=np.array([lo_s, lo_s, hi_s]),
            lead_time_mean=1.0,
            lead_time_sd=0.0,
            order_quantity=q,
        )
    )
    ss = r.safety_stock
    assert ss[0] <= ss[1] + 1e-9 * (1 + abs(ss[1]))
    assert ss[1] <= ss[2] + 1e-9 * (1 + abs(ss[2]))


@given(target=st.floats(0.01, 0.9999), measure=st.sampled_from([0, 1]), d=st.floats(0, 1e4))
def test_no_variability_means_no_safety_stock(target: float, measure: int, d: float) -> None:
    r = compute_policy(
        PolicyInputs(
            policy_type=SQ,
            measure=measure,
            target=target,
            demand_mean=d,
            demand_sd=0.0,
            lead_time_mean=3.0,
            lead_time_sd=0.0,
            order_quantity=10.0,
        )
    )
    assert r.safety_stock[0] == 0.0
    assert r.reorder_point[0] == pytest.approx(3 * d)


@given(d=st.floats(0, 1e4), sd=st.floats(0, 1e4), lt=st.floats(0, 100), slt=st.floats(0, 50))
def test_variance_shares_add_to_one(d: float, sd: float, lt: float, slt: float) -> None:
    share_d, share_l = variance_shares(d, sd, lt, slt, 1.0)
    total = float(share_d + share_l)
    assert total == pytest.approx(1.0) or total == 0.0
