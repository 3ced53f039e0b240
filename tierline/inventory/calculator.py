"""The policy calculator: one SKU-location's numbers from typed inputs, through the function
that computes every policy run's numbers (``formulas.compute_policy``)."""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from tierline.inventory.document import (
    MEASURE_CODES,
    POLICY_TYPE_CODES,
    MeasureName,
    PolicyTypeName,
)
from tierline.inventory.formulas import (
    FLAG_REASONS,
    Distribution,
    Flag,
    PolicyInputs,
    compute_policy,
    flag_names,
)


class CalculatorInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Demand per period, lead time and review period in the same periods, a target share."""

    demand_mean: float
    demand_sd: float
    lead_time_mean: float
    lead_time_sd: float = 0.0
    review_period: float = 0.0
    order_quantity: float | None = None
    policy_type: PolicyTypeName = "s_q"
    service_measure: MeasureName = "cycle_service_level"
    target: float = 0.95
    distribution: Literal["normal", "gamma"] = "normal"
    k_max: float = 4.0
    floor_k_at_zero: bool = True


class CalculatorResult(msgspec.Struct, kw_only=True):
    """What the policy delivers; ``flags`` name every rule that changed the plain formula and
    ``reasons`` say it in words. Numbers are null when the input was refused."""

    k: float | None
    sigma: float | None
    safety_stock: float | None
    reorder_point: float | None
    order_up_to: float | None
    order_quantity: float | None
    expected_fill_rate: float | None
    expected_cycle_service_level: float | None
    expected_on_hand: float | None
    demand_share: float | None
    lead_time_share: float | None
    flags: list[str]
    reasons: list[str]
    formula: str


FORMULA = "SS = k·σ, σ = √((L + R)·σd² + d²·σL²); reorder point = d·(L + R) + SS"


def calculate(data: CalculatorInput) -> CalculatorResult:
    """The numbers of one policy for the inputs: ``formulas.compute_policy``, the function a
    run's engine hands its columns to, on one row (no frames: the endpoint answers in a
    millisecond). A target of 1 or more is passed on to the maths, which caps and flags it,
    so the calculator shows the reason instead of refusing the request."""
    gamma = data.distribution == "gamma"
    review = 0.0 if data.policy_type == "s_q" else data.review_period
    r = compute_policy(
        PolicyInputs(
            policy_type=POLICY_TYPE_CODES[data.policy_type],
            measure=MEASURE_CODES[data.service_measure],
            target=data.target,
            demand_mean=data.demand_mean,
            demand_sd=data.demand_sd,
            lead_time_mean=data.lead_time_mean,
            lead_time_sd=data.lead_time_sd,
            review_period=review,
            order_quantity=data.order_quantity if data.order_quantity is not None else 0.0,
            distribution=Distribution.GAMMA if gamma else Distribution.NORMAL,
        ),
        k_max=data.k_max,
        floor_k_at_zero=data.floor_k_at_zero,
    )
    numbers = {
        "k": r.k,
        "sigma": r.sigma,
        "safety_stock": r.safety_stock,
        "reorder_point": r.reorder_point,
        "order_up_to": r.order_up_to,
        "order_quantity": r.cycle_quantity,
        "expected_fill_rate": r.expected_fill_rate,
        "expected_cycle_service_level": r.expected_cycle_service_level,
        "expected_on_hand": r.expected_on_hand,
        "demand_share": r.demand_share,
        "lead_time_share": r.lead_time_share,
    }
    values = {name: _number(array[0]) for name, array in numbers.items()}
    flags = int(r.flags[0])
    return CalculatorResult(
        **values,
        flags=flag_names(flags),
        reasons=[FLAG_REASONS[f] for f in Flag if f and flags & f and f in FLAG_REASONS],
        formula=FORMULA,
    )


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
