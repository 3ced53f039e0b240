"""The read side of runs: the run list (newest first) and one run's detail, keyset-paged.

Plain async functions over a tenant session (``tenant_session`` has bound the schema). A page
returns the cursor of the next one, never an offset, so paging stays cheap on long histories.
``clamp`` bounds every page size segmentation's lists accept.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.errors import DomainError
from tierline.segmentation.models import RunResult, SegmentationRun

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def clamp(limit: int | None, default: int = DEFAULT_LIMIT) -> int:
    return max(1, min(MAX_LIMIT, limit or default))


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class RunPage:
    rows: list[SegmentationRun]
    next_before: str | None  # pass as ``before`` for older runs


def _run_cursor(row: SegmentationRun) -> str:
    raw = f"{row.started_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_run_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, key = raw.split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("before: not a cursor this API returned") from None


class InvalidCursor(DomainError):
    status_code = 422
    title = "Invalid cursor"


async def list_runs(
    session: AsyncSession,
    scheme_code: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> RunPage:
    """Runs, newest first."""
    limit = clamp(limit, 50)
    query = select(SegmentationRun)
    if scheme_code:
        query = query.where(SegmentationRun.scheme_code == scheme_code)
    if before:
        stamp, key = _decode_run_cursor(before)
        query = query.where(
            or_(
                SegmentationRun.started_at < stamp,
                and_(SegmentationRun.started_at == stamp, SegmentationRun.id < key),
            )
        )
    query = query.order_by(SegmentationRun.started_at.desc(), SegmentationRun.id.desc())
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return RunPage(rows, _run_cursor(rows[-1]) if more and rows else None)


@dataclass(frozen=True)
class RunDetail:
    run: SegmentationRun
    results: list[dict[str, Any]]  # one page of run_results (filtered by outcome)
    next_after: str | None  # entity_key to pass as ``after``
    moves: list[dict[str, Any]] = field(default_factory=list)  # from -> to counts


def as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def run_detail(
    session: AsyncSession,
    run_id: str | uuid.UUID,
    *,
    outcome: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunDetail | None:
    """A run, its move matrix and one page of its results; None when there is no such run.

    Without ``outcome`` the page lists the entities whose segment changed or may change (every
    outcome but ``unchanged``); ``outcome="all"`` lists every result."""
    key = as_uuid(run_id)
    if key is None:
        return None
    run = await session.get(SegmentationRun, key)
    if run is None:
        return None
    limit = clamp(limit)
    r = RunResult
    query = select(
        r.entity_key,
        r.segment,
        r.previous_segment,
        r.outcome,
        r.abc,
        r.xyz,
        r.cum_share,
        r.cv,
        r.source,
        r.rule,
    ).where(r.run_id == key)
    if outcome and outcome != "all":
        query = query.where(r.outcome == outcome)
    elif not outcome:
        query = query.where(r.outcome != "unchanged")
    if after:
        query = query.where(r.entity_key > after)
    rows = [
        dict(m)
        for m in (await session.execute(query.order_by(r.entity_key).limit(limit + 1))).mappings()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    matrix = await session.execute(
        select(r.previous_segment, r.segment, func.count())
        .where(
            r.run_id == key,
            r.previous_segment.is_not(None),
            r.previous_segment != r.segment,
        )
        .group_by(r.previous_segment, r.segment)
        .order_by(func.count().desc())
    )
    moves = [{"from_segment": a, "to_segment": b, "count": n} for a, b, n in matrix.all()]
    return RunDetail(run, rows, rows[-1]["entity_key"] if more and rows else None, moves)


async def latest_run(session: AsyncSession, scheme_code: str) -> uuid.UUID | None:
    """The scheme's most recent succeeded run (by as-of date, then start)."""
    found: uuid.UUID | None = (
        await session.execute(
            select(SegmentationRun.id)
            .where(
                SegmentationRun.scheme_code == scheme_code, SegmentationRun.status == "succeeded"
            )
            .order_by(SegmentationRun.as_of.desc(), SegmentationRun.started_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return found
