"""API shapes of segment assignments: what is in force, conflicts with the sales view, and
an entity's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class AssignmentOut(msgspec.Struct):
    """An entity's segment in a scheme, valid from ``valid_from`` until ``valid_to`` (open:
    still in force), set by a run, an override, an exception or by hand (``source``)."""

    entity_key: str
    customer_code: str | None
    sku: str | None
    name: str | None
    segment: str
    valid_from: datetime
    valid_to: datetime | None
    source: str
    reason: str | None
    run_id: str | None
    created_by: str | None


class AssignmentsOut(msgspec.Struct):
    """One page of the assignments of ``scheme`` in force at ``as_of``, by entity key."""

    scheme: str
    as_of: datetime | None
    items: list[AssignmentOut]
    next_cursor: str | None


class TimelineEntryOut(msgspec.Struct):
    """One assignment of the entity, in any scheme."""

    scheme_code: str
    scheme_name: str | None
    entity: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    segment: str
    valid_from: datetime
    valid_to: datetime | None
    run_id: str | None
    source: str
    reason: str | None
    created_by: str | None


class TimelineOut(msgspec.Struct):
    """Assignments of a customer or a SKU in every scheme, by scheme, entity and start
    (``next_cursor`` as ``cursor`` for the next page)."""

    items: list[TimelineEntryOut]
    next_cursor: str | None


class ConflictsOut(msgspec.Struct):
    """Sales view against segment for a customer scheme: the matrix (sales class ->
    segment -> accounts), totals, and one page of the accounts that disagree."""

    scheme: str
    top_segment: str | None
    lower_half: list[str]
    matrix: dict[str, dict[str, int]]
    totals: dict[str, int]
    run_id: str | None
    items: list[dict[str, Any]]
    next_cursor: str | None
