"""API shapes of classification runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec


class RunStartIn(msgspec.Struct):
    """Which scheme to run (its version in force), and as of which day (default: today)."""

    scheme: str
    as_of: str | None = None


class RunOut(msgspec.Struct):
    """A classification run: the scheme version and engine it ran, its inputs and counts."""

    id: str
    scheme: str
    version: int
    content_hash: str
    engine_version: str
    as_of: date
    status: str
    trigger: str
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    inputs: dict[str, Any]
    counts: dict[str, Any]
    warnings: list[str]
    message: str | None


class RunMoveOut(msgspec.Struct):
    """How many entities moved from one segment to another."""

    from_segment: str
    to_segment: str
    count: int


class RunResultOut(msgspec.Struct):
    """One entity's result in a run."""

    entity_key: str
    segment: str
    previous_segment: str | None
    outcome: str
    abc: str | None
    xyz: str | None
    cum_share: float | None
    cv: float | None
    source: str
    rule: str | None
    defaults_used: list[str]


class RunDetailOut(RunOut):
    """A run with its move matrix, the entities classified on each default (attribute ->
    count) and one page of results (``next_cursor`` for the next)."""

    defaults_used: dict[str, int]
    moves: list[RunMoveOut]
    results: list[RunResultOut]
    next_cursor: str | None
