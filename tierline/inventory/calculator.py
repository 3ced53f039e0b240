"""The policy calculator: one SKU-location's numbers from typed inputs, through the very code
a policy run uses (a one-row statistics frame and a one-segment document)."""

from __future__ import annotations

from typing import Literal

import msgspec
import polars as pl

from tierline.inventory.document import (
    MeasureName,
    OrderQuantity,
    PolicyDocument,
    PolicyTypeName,
    SegmentPolicy,
)
from tierline.inventory.engine import WEIGHTS, compute_results
from tierline.inventory.formulas import FLAG_REASONS, Flag, flag_names


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


def _document(data: CalculatorInput) -> PolicyDocument:
    # A target of 1 or more is passed on to the maths (which caps and flags it): the
    # calculator shows the reason instead of refusing the whole request.
    policy = SegmentPolicy(
        segment="*",
        policy_type=data.policy_type,
        service_measure=data.service_measure,
        target=data.target,
        review_period_days=data.review_period,
        order_quantity=OrderQuantity(rule="units", units=data.order_quantity, minimum_units=0.0),
    )
    return PolicyDocument(
        scheme="calculator",
        k_max=data.k_max,
        floor_k_at_zero=data.floor_k_at_zero,
        default=policy,
        intermittent_distribution="gamma",
    )


def calculate(data: CalculatorInput) -> CalculatorResult:
    """The numbers of one policy for the inputs, as a run would compute them."""
    doc = _document(data)
    statistics = pl.DataFrame(
        {
            "sku": ["*"],
            "location_code": ["*"],
            "base_uom": [None],
            "periods": [0],
            "zero_periods": [0],
            "demand_mean": [float(data.demand_mean)],
            "demand_sd": [float(data.demand_sd)],
            "demand_class": ["lumpy" if data.distribution == "gamma" else "smooth"],
            "lead_time_source": ["given"],
            "lead_time_observations": [0],
            "lead_time_mean": [float(data.lead_time_mean)],
            "lead_time_sd": [float(data.lead_time_sd)],
            "flags": [0],
        },
        schema_overrides={"base_uom": pl.String, "periods": pl.Int32, "zero_periods": pl.Int32},
    )
    segments = pl.DataFrame(
        {"sku": ["*"], "location_code": ["*"], "segment_code": [None]},
        schema={"sku": pl.String, "location_code": pl.String, "segment_code": pl.String},
    ).with_columns(pl.lit(None, WEIGHTS).alias("segment_weights"))
    row = compute_results(statistics, segments, doc, {}).row(0, named=True)
    flags = int(row["flags"])
    return CalculatorResult(
        **{name: row[name] for name in _NUMBERS},
        flags=flag_names(flags),
        reasons=[FLAG_REASONS[f] for f in Flag if f and flags & f and f in FLAG_REASONS],
        formula=FORMULA,
    )


_NUMBERS = (
    "k",
    "sigma",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "order_quantity",
    "expected_fill_rate",
    "expected_cycle_service_level",
    "expected_on_hand",
    "demand_share",
    "lead_time_share",
)
