"""API shapes of governance: override requests, the approval queue, pending moves."""

from __future__ import annotations

from datetime import datetime

import msgspec


class OverrideRequestIn(msgspec.Struct):
    """A request to move ``entity_key`` to ``to_segment`` in ``scheme`` until ``expires_on``
    (``YYYY-MM-DD``), with a reason and evidence (texts or URLs)."""

    scheme: str | None = None
    entity_key: str | None = None
    to_segment: str | None = None
    reason: str | None = None
    evidence: list[str] | None = None
    expires_on: str | None = None


class OverrideDecisionIn(msgspec.Struct):
    """``approve`` or ``reject``, why, and whether contract conflicts are acknowledged."""

    decision: str | None = None
    reason: str | None = None
    acknowledge_conflicts: bool = False


class OverrideOut(msgspec.Struct):
    """An override request and, once decided, the decision."""

    id: int
    scheme: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    from_segment: str | None
    to_segment: str
    tier_jump: int
    reason: str
    evidence: list[str]
    expires_on: str
    scope: str
    status: str
    requested_by: str
    requested_at: str | None
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    conflicts_acknowledged: list[str] | None  # the conflicts the board acknowledged
    assignment_id: int | None


class OverridesOut(msgspec.Struct):
    """A page of override requests (``next_cursor`` as ``cursor`` for the next)."""

    items: list[OverrideOut]
    next_cursor: str | None


class QueueItemOut(msgspec.Struct):
    """Something awaiting a decision (``kind`` ``override`` or ``move``; ``ref`` names it),
    whether the caller may decide it, and if not why."""

    kind: str
    id: int
    ref: str
    scheme: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    from_segment: str | None
    to_segment: str
    tier_jump: int
    scope: str
    requested_by: str
    requested_at: str | None
    reason: str
    reasons: list[str]
    evidence: list[str]
    expires_on: str | None
    conflicts: list[str]
    decidable: bool
    why_not: str | None


class ApprovalsOut(msgspec.Struct):
    """A page of the approval queue (``next_cursor`` as ``cursor`` for the next)."""

    items: list[QueueItemOut]
    next_cursor: str | None


class MoveOut(msgspec.Struct):
    """A segment move a run proposed, awaiting (or past) a decision."""

    id: int
    run_id: str
    scheme: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    from_segment: str | None
    to_segment: str
    reasons: list[str]
    source: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class MovesOut(msgspec.Struct):
    """A page of moves (``next_cursor`` as ``cursor`` for the next)."""

    items: list[MoveOut]
    next_cursor: str | None


class MovesDecisionIn(msgspec.Struct):
    """Decide moves all or nothing: ``apply`` or ``reject``; the governance board
    acknowledges contract conflicts with ``acknowledge_conflicts``."""

    ids: list[int] | None = None
    decision: str | None = None
    reason: str | None = None
    acknowledge_conflicts: bool = False


class MovesDecidedOut(msgspec.Struct):
    """How many moves were decided, and how."""

    decided: int
    status: str
