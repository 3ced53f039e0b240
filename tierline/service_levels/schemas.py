"""API shapes of service levels: entitlement versions, contracts, escalation paths (the
inputs are the domain's own structs, ``EntitlementInput``, ``ContractInput``, ``StepInput``)."""

from __future__ import annotations

from typing import Any

import msgspec

from tierline.service_levels.entitlements import EntitlementInput
from tierline.service_levels.escalation import StepInput


class EntitlementCreateIn(EntitlementInput, kw_only=True):
    """A new entitlement version of ``segment_code`` in ``scheme_code``: targets as fractions
    0..1."""

    scheme_code: str
    segment_code: str


class EntitlementVersionOut(msgspec.Struct):
    """An entitlement version as stored (fractions 0..1), with who wrote it."""

    id: int
    scheme_code: str
    segment_code: str
    version: int
    effective_from: str
    effective_to: str | None
    fill_rate_target: float
    otif_target: float
    perfect_order_target: float
    cycle_service_level: float
    quoted_lead_time_days: int
    delivery_windows: list[dict[str, Any]]
    allocation_priority: int
    allocation_min_share: float
    picking_priority: int
    transport_rules: str | None
    taxonomy_code: str | None
    allow_below_lower_tier: bool
    note: str | None
    created_at: str | None
    created_by: str | None


class SegmentEntitlementsOut(msgspec.Struct):
    """A segment of the scheme (rank order) and every entitlement version it has had."""

    code: str
    name: str
    rank: int
    colour: str | None
    versions: list[EntitlementVersionOut]


class EntitlementsOut(msgspec.Struct):
    """The segments of a published scheme with their entitlement versions."""

    scheme: str
    segments: list[SegmentEntitlementsOut]


class ContractOut(msgspec.Struct):
    """A customer contract: minimums as fractions 0..1 (null: not contracted)."""

    id: int
    customer_code: str
    reference: str
    valid_from: str
    valid_to: str | None
    fill_rate_min: float | None
    otif_min: float | None
    perfect_order_min: float | None
    max_lead_time_days: int | None
    note: str | None
    created_at: str | None
    created_by: str | None


class EscalationIn(msgspec.Struct):
    """The whole path, steps in order."""

    steps: list[StepInput]


class StepOut(msgspec.Struct):
    """Whom to notify (``role:<role>`` or an address) after how many periods, how."""

    step: int
    notify: str
    after_periods: int
    period: str
    channel: str


class EscalationOut(msgspec.Struct):
    """A segment's escalation path."""

    scheme: str
    segment: str
    steps: list[StepOut]
