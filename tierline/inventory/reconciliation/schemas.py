"""The reconciliation API's structs: money at stake null with ``masked`` true for callers
without ``margin:read``."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class ReconciliationOut(msgspec.Struct):
    id: int
    status: str  # open | pending_approval | approved | rejected
    as_of: date
    policy_run_id: str | None
    counts: dict[str, int]
    created_at: datetime
    created_by: str
    submitted_by: str | None
    decided_by: str | None
    decision_reason: str | None


class ReconciliationRowOut(msgspec.Struct):
    sku: str
    location_code: str
    segment_code: str | None
    policy_type: str | None
    erp_mrp_type: str | None
    proposed_mrp_type: str | None
    base_uom: str | None
    erp_uom: str | None
    erp_safety_stock: float | None
    recommended_safety_stock: float | None
    erp_reorder_point: float | None
    recommended_reorder_point: float | None
    erp_lead_time_days: float | None
    recommended_lead_time_days: float | None
    proposed_safety_stock: float | None  # in the ERP's unit
    proposed_reorder_point: float | None
    mismatches: list[str]
    changed: bool
    stake_rank: int
    value_delta: float | None  # null when masked or no unit cost is known
    masked: bool


class ReconciliationPageOut(msgspec.Struct):
    reconciliation: ReconciliationOut
    rows: list[ReconciliationRowOut]
    total: int
    next_offset: int | None


class ReconcileIn(msgspec.Struct):
    """``as_of``: the day the comparison is for (unit costs over the year before); today when
    left out."""

    as_of: date | None = None


class SubmitIn(msgspec.Struct):
    """A note for the approvers (kept in the audit log)."""

    note: str | None = msgspec.field(default=None)
