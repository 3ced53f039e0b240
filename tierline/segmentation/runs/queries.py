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

import msgspec
from sqlalchemy import and_, any_, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.errors import DomainError
from tierline.segmentation.models import RunResult, SchemeVersion, SegmentationRun
from tierline.segmentation.schemes.model import Variability

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
    # attribute -> entities classified on the scheme's default for it (a missing value)
    defaults_used: dict[str, int] = field(default_factory=dict)


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
    default: str | None = None,
) -> RunDetail | None:
    """A run, its move matrix, how many entities used each default, and one page of its
    results; None when there is no such run.

    Without ``outcome`` the page lists the entities whose segment changed or may change (every
    outcome but ``unchanged``); ``outcome="all"`` lists every result. ``default`` keeps the
    results classified on the default of that attribute (``"any"``: on any default)."""
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
        r.defaults_used,
    ).where(r.run_id == key)
    if default == "any":
        query = query.where(func.cardinality(r.defaults_used) > 0)
    elif default:
        query = query.where(literal(default) == any_(r.defaults_used))
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
    per_attribute = await session.execute(
        text(
            "SELECT u.attr, count(*) FROM run_results r "
            "CROSS JOIN LATERAL unnest(r.defaults_used) AS u(attr) "
            "WHERE r.run_id = :r GROUP BY u.attr ORDER BY u.attr"
        ),
        {"r": key},
    )
    defaults = {str(name): int(n) for name, n in per_attribute.all()}
    next_after = rows[-1]["entity_key"] if more and rows else None
    return RunDetail(run, rows, next_after, moves, defaults)


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


async def run_variability(session: AsyncSession, run: SegmentationRun) -> Variability:
    """How the run's scheme version measured demand variability (bucket, and from when)."""
    document = (
        await session.execute(
            select(SchemeVersion.document).where(
                SchemeVersion.scheme_code == run.scheme_code, SchemeVersion.version == run.version
            )
        )
    ).scalar_one_or_none()
    found = (document or {}).get("variability") or {}
    try:
        return msgspec.convert(found, Variability)
    except msgspec.ValidationError:
        return Variability()
