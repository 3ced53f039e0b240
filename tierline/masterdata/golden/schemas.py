"""The data steward API's structs: open reviews with their candidate golden records, and the
decisions (merge, keep apart) with what they did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

REASON_MAX = 500


class FieldOut(msgspec.Struct):
    name: str
    source: str  # the source record's value ("" when it has none)
    golden: str  # the candidate golden record's value
    differs: bool


class ReviewOut(msgspec.Struct):
    id: int
    entity: str  # customer | product
    source_system: str
    source_key: str
    candidate_code: str  # the golden record the source record may be
    score: float
    reasons: list[str]
    created_at: datetime
    fields: list[FieldOut]  # the two records side by side
    candidate_missing: bool  # the candidate no longer exists: only keeping apart is possible


class ReviewListOut(msgspec.Struct):
    """A page of open reviews (``next_cursor`` as ``cursor`` for the next)."""

    items: list[ReviewOut]
    next_cursor: str | None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=REASON_MAX)] | None = None  # for the audit log


class DecisionOut(msgspec.Struct):
    review_id: int
    status: str  # merged | kept_apart
    entity: str
    source_system: str
    source_key: str
    code: str  # the golden record the source record is linked to now
    other_candidates_closed: int  # the record's other open reviews, closed as kept apart
