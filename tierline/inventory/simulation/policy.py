"""Replenishment policies as per-SKU-location arrays: what the simulation replays.

Every policy the product knows reduces to one rule, evaluated at the end of a review day:

- **trigger**: the inventory position (on hand - backorders + on order) is at or below the
  reorder point ``s`` (``ERP_REORDER_POINT``: strictly below, as SAP's reorder point planning
  reads "falls below");
- **quantity**: either the smallest multiple of ``Q`` that lifts the position above ``s``
  (``MULTIPLES_OF_Q``, the textbook (s, nQ) rule) or the distance to the order-up-to level
  (``UP_TO_LEVEL``); then the minimum lot, the maximum lot and the rounding value apply, in that
  order (SAP: ``BSTMI``, ``BSTMA``, ``BSTRF``).

Units are the product's base unit; review periods and offsets are whole days.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class PolicyType(IntEnum):
    """What a planner chose; the engine only reads the generic fields below."""

    CONTINUOUS_SQ = 1  # (s, Q), reviewed every day, orders multiples of Q
    PERIODIC_RS = 2  # (R, S): every R days order up to S
    MIN_MAX = 3  # (s, S): at or below s order up to S (daily, or every R days)
    ERP_REORDER_POINT = 4  # the ERP's reorder point and lot-size rules, replayed


class LotSizing(IntEnum):
    MULTIPLES_OF_Q = 0
    UP_TO_LEVEL = 1


class ErpLotSize(IntEnum):
    """SAP lot-size procedures (``DISLS``) the replay understands."""

    FIXED = 1  # FX: fixed lot (BSTFE), as many lots as lift the position to the reorder point
    LOT_FOR_LOT = 2  # EX: the shortfall up to the reorder point
    REPLENISH_TO_MAX = 3  # HB: up to the maximum stock level (MABST)


def _floats(values: npt.ArrayLike, n: int, default: float = 0.0) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array) if array.size else default, dtype=np.float64)
    return array.astype(np.float64, copy=False)


def _ints(values: npt.ArrayLike, n: int) -> IntArray:
    array = np.asarray(values)
    if array.ndim == 0:
        return np.full(n, int(array), dtype=np.int64)
    return array.astype(np.int64, copy=False)


@dataclass(frozen=True)
class ReplenishmentPolicy:
    """One policy per SKU-location (all arrays of the same length ``n``).

    ``reorder_point`` (s), ``order_quantity`` (Q), ``order_up_to`` (S or max), ``min_lot``,
    ``max_lot`` (``inf`` = none) and ``rounding_value`` (0 = none) are in base units;
    ``review_period_days`` is 1 for daily (continuous) review; a review happens on days ``t``
    (0-based, first simulated day = 0) with ``(t - review_offset_days) % review_period_days == 0``.
    """

    policy_type: IntArray
    reorder_point: FloatArray
    order_quantity: FloatArray
    order_up_to: FloatArray
    review_period_days: IntArray
    review_offset_days: IntArray
    lot_sizing: IntArray
    trigger_strictly_below: BoolArray
    min_lot: FloatArray
    max_lot: FloatArray
    rounding_value: FloatArray

    def __len__(self) -> int:
        return int(self.reorder_point.shape[0])

    def __post_init__(self) -> None:
        n = len(self)
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, np.ndarray) or value.shape != (n,):
                raise ValueError(f"policy field {field.name} must be an array of length {n}")

    def take(self, rows: npt.ArrayLike) -> ReplenishmentPolicy:
        """The policies of some rows only (an index or boolean mask)."""
        index = np.asarray(rows)
        return ReplenishmentPolicy(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def raised_by(self, units: npt.ArrayLike) -> ReplenishmentPolicy:
        """The same policy holding ``units`` more buffer: s and S moved up together."""
        delta = _floats(units, len(self))
        return replace(
            self, reorder_point=self.reorder_point + delta, order_up_to=self.order_up_to + delta
        )

    def top_level(self) -> FloatArray:
        """The position right after an order: S for order-up-to rules, s + Q otherwise (the
        default opening stock of a replay)."""
        up_to = self.lot_sizing == LotSizing.UP_TO_LEVEL
        top = np.where(up_to, self.order_up_to, self.reorder_point + self.order_quantity)
        return np.maximum(top, 0.0)

    # -- constructors, one per policy the product offers ----------------------------------

    @classmethod
    def _build(
        cls,
        n: int,
        policy_type: PolicyType,
        reorder_point: npt.ArrayLike,
        order_quantity: npt.ArrayLike,
        order_up_to: npt.ArrayLike,
        review_period_days: npt.ArrayLike,
        review_offset_days: npt.ArrayLike,
        lot_sizing: npt.ArrayLike,
        strictly_below: bool,
        min_lot: npt.ArrayLike = 0.0,
        max_lot: npt.ArrayLike = np.inf,
        rounding_value: npt.ArrayLike = 0.0,
    ) -> ReplenishmentPolicy:
        return cls(
            policy_type=np.full(n, int(policy_type), dtype=np.int64),
            reorder_point=_floats(reorder_point, n),
            order_quantity=_floats(order_quantity, n),
            order_up_to=_floats(order_up_to, n),
            review_period_days=_ints(review_period_days, n),
            review_offset_days=_ints(review_offset_days, n),
            lot_sizing=_ints(lot_sizing, n),
            trigger_strictly_below=np.full(n, strictly_below, dtype=np.bool_),
            min_lot=_floats(min_lot, n),
            max_lot=_floats(max_lot, n),
            rounding_value=_floats(rounding_value, n),
        )

    @classmethod
    def continuous_sq(
        cls, reorder_point: npt.ArrayLike, order_quantity: npt.ArrayLike
    ) -> ReplenishmentPolicy:
        """(s, Q): every day, at or below s, order the smallest multiple of Q lifting the
        position above s."""
        n = np.asarray(reorder_point).shape[0]
        return cls._build(
            n, PolicyType.CONTINUOUS_SQ, reorder_point, order_quantity, np.nan, 1, 0,
            LotSizing.MULTIPLES_OF_Q, False,
        )  # fmt: skip

    @classmethod
    def periodic_rs(
        cls,
        review_period_days: npt.ArrayLike,
        order_up_to: npt.ArrayLike,
        review_offset_days: npt.ArrayLike = 0,
    ) -> ReplenishmentPolicy:
        """(R, S): every R days order up to S (whatever the position: s = S, strictly below)."""
        n = np.asarray(order_up_to).shape[0]
        return cls._build(
            n, PolicyType.PERIODIC_RS, order_up_to, 0.0, order_up_to, review_period_days,
            review_offset_days, LotSizing.UP_TO_LEVEL, True,
        )  # fmt: skip

    @classmethod
    def min_max(
        cls,
        minimum: npt.ArrayLike,
        maximum: npt.ArrayLike,
        review_period_days: npt.ArrayLike = 1,
        review_offset_days: npt.ArrayLike = 0,
    ) -> ReplenishmentPolicy:
        """(s, S) min/max: at or below the minimum, order up to the maximum."""
        n = np.asarray(minimum).shape[0]
        return cls._build(
            n, PolicyType.MIN_MAX, minimum, 0.0, maximum, review_period_days,
            review_offset_days, LotSizing.UP_TO_LEVEL, False,
        )  # fmt: skip

    @classmethod
    def erp_reorder_point(
        cls,
        reorder_point: npt.ArrayLike,
        lot_size: npt.ArrayLike,
        *,
        fixed_lot: npt.ArrayLike = 0.0,
        min_lot: npt.ArrayLike = 0.0,
        rounding_value: npt.ArrayLike = 0.0,
        max_stock_level: npt.ArrayLike = np.nan,
        max_lot: npt.ArrayLike = np.inf,
    ) -> ReplenishmentPolicy:
        """The ERP's own parameters (SAP ``DISMM`` VB/VM): when the position falls below
        ``MINBE`` order by the lot-size procedure (:class:`ErpLotSize` codes): ``FIXED``
        multiples of ``BSTFE``, ``LOT_FOR_LOT`` the shortfall up to ``MINBE``,
        ``REPLENISH_TO_MAX`` up to ``MABST``; then ``BSTMI`` (minimum lot), ``BSTMA``
        (maximum lot) and ``BSTRF`` (rounding value)."""
        s = _floats(reorder_point, np.asarray(reorder_point).shape[0])
        n = s.shape[0]
        procedure = _ints(lot_size, n)
        fixed = procedure == ErpLotSize.FIXED
        up_to = np.where(
            procedure == ErpLotSize.REPLENISH_TO_MAX, _floats(max_stock_level, n, np.nan), s
        )
        return cls._build(
            n, PolicyType.ERP_REORDER_POINT, s, np.where(fixed, _floats(fixed_lot, n), 0.0),
            up_to, 1, 0,
            np.where(fixed, int(LotSizing.MULTIPLES_OF_Q), int(LotSizing.UP_TO_LEVEL)),
            True, min_lot, max_lot, rounding_value,
        )  # fmt: skip

    @classmethod
    def concat(cls, parts: list[ReplenishmentPolicy]) -> ReplenishmentPolicy:
        """Several policy sets as one (rows in order)."""
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


def policy_problems(policy: ReplenishmentPolicy) -> list[tuple[BoolArray, str, str]]:
    """Rows whose policy cannot be replayed, as (mask, code, reason) triples."""
    multiples = policy.lot_sizing == LotSizing.MULTIPLES_OF_Q
    up_to = policy.lot_sizing == LotSizing.UP_TO_LEVEL
    checks: list[tuple[BoolArray, str, str]] = [
        (
            ~np.isfinite(policy.reorder_point),
            "policy_reorder_point_missing",
            "the reorder point is missing",
        ),
        (
            multiples & ~(np.isfinite(policy.order_quantity) & (policy.order_quantity > 0)),
            "policy_order_quantity_invalid",
            "the order quantity must be a positive number of units",
        ),
        (
            up_to & ~np.isfinite(policy.order_up_to),
            "policy_order_up_to_missing",
            "the order-up-to (maximum) level is missing",
        ),
        (
            up_to & (policy.order_up_to < policy.reorder_point),
            "policy_max_below_min",
            "the order-up-to (maximum) level is below the reorder point (minimum)",
        ),
        (
            policy.review_period_days < 1,
            "policy_review_period_invalid",
            "the review period must be at least one day",
        ),
        (
            ~((policy.min_lot >= 0) & (policy.rounding_value >= 0) & (policy.max_lot > 0)),
            "policy_lot_rules_invalid",
            "lot-size rules must be non-negative (maximum lot above zero)",
        ),
        (
            ~(np.isfinite(policy.min_lot) & np.isfinite(policy.rounding_value))
            | (policy.max_lot < policy.min_lot),
            "policy_lot_rules_invalid",
            "the minimum lot exceeds the maximum lot, or a lot rule is not a number",
        ),
    ]
    return checks
