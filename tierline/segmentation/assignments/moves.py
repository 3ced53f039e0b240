"""Pending moves: the moves a run held for a decision, listed, and what deciding them writes.

A run writes pending moves (``runs.service``); governance decides them. This module lists them
(oldest first, keyset-paged), locks the ones being decided, applies approved ones to the
assignments (close the row in force, open the new one) and records the decision on the move.
The decision itself, who may take it and who is told, is governance's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.segmentation.assignments.changes import NewAssignment, start_assignments
from tierline.segmentation.models import MOVE_STATUSES, PendingMove
from tierline.segmentation.runs.queries import DEFAULT_LIMIT, clamp, escape_like


@dataclass(frozen=True)
class Move:
    """One move a run proposed: ``from_segment -> to_segment`` of an entity, why it waits
    (``reasons``) and, once decided, by whom and why."""

    id: int
    run_id: uuid.UUID
    scheme_code: str
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


@dataclass(frozen=True)
class MovePage:
    rows: list[Move]
    next_after_id: int | None


def _plain(row: PendingMove) -> Move:
    return Move(
        row.id,
        row.run_id,
        row.scheme_code,
        row.entity_key,
        row.customer_code,
        row.sku,
        row.from_segment,
        row.to_segment,
        list(row.reasons or []),
        row.source,
        row.status,
        row.created_at,
        row.decided_by,
        row.decided_at,
        row.decision_reason,
    )


async def pending_moves(
    session: AsyncSession,
    scheme: str | None = None,
    status: str | None = "pending",
    *,
    reason: str | None = None,
    entity: str | None = None,
    after_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MovePage:
    """Moves waiting for a decision (or of another ``status``), oldest first."""
    m = PendingMove
    limit = clamp(limit)
    query = select(m)
    if scheme:
        query = query.where(m.scheme_code == scheme)
    if status:
        query = query.where(m.status == status)
    if reason:
        query = query.where(m.reasons.any(reason))  # type: ignore[arg-type]
    if entity:
        query = query.where(m.entity_key.like(escape_like(entity) + "%", escape="\\"))
    if after_id is not None:
        query = query.where(m.id > after_id)
    rows = list((await session.execute(query.order_by(m.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return MovePage([_plain(r) for r in rows], rows[-1].id if more and rows else None)


async def pending_move(session: AsyncSession, move_id: int) -> Move | None:
    row = await session.get(PendingMove, move_id)
    return None if row is None else _plain(row)


async def move_reasons(session: AsyncSession) -> list[str]:
    """Every reason a pending move waits for, sorted."""
    rows = await session.execute(
        select(func.unnest(PendingMove.reasons).label("reason"))
        .where(PendingMove.status == "pending")
        .distinct()
    )
    return sorted(str(r) for r in rows.scalars())


async def lock_moves(session: AsyncSession, ids: Sequence[int]) -> list[Move]:
    """The moves of ``ids`` that exist, by id, locked until the transaction ends."""
    rows = (
        await session.execute(
            select(PendingMove)
            .where(PendingMove.id.in_(list(ids)))
            .order_by(PendingMove.id)
            .with_for_update()
        )
    ).scalars()
    return [_plain(row) for row in rows]


async def apply_moves(
    session: AsyncSession, moves: Sequence[Move], *, reason: str, by: str, at: datetime
) -> list[int]:
    """Put each moved entity in its ``to_segment`` from ``at`` (source from the move, the
    move's run); the new assignment rows' ids. The caller checked the moves still start from
    the segment in force."""
    return await start_assignments(
        session,
        [
            NewAssignment(
                scheme_code=m.scheme_code,
                entity_key=m.entity_key,
                customer_code=m.customer_code,
                sku=m.sku,
                segment=m.to_segment,
                source=m.source,
                reason=reason,
                created_by=by,
                run_id=m.run_id,
            )
            for m in moves
        ],
        at,
    )


async def record_decision(
    session: AsyncSession,
    ids: Sequence[int],
    status: str,
    *,
    by: str,
    at: datetime,
    reason: str,
) -> None:
    """Mark the moves ``status`` (applied, rejected) with who decided, when and why."""
    if status not in MOVE_STATUSES:
        raise ValueError(f"move status {status!r} is not one of {', '.join(MOVE_STATUSES)}")
    await session.execute(
        update(PendingMove)
        .where(PendingMove.id.in_(list(ids)))
        .values(status=status, decided_by=by, decided_at=at, decision_reason=reason)
        .execution_options(synchronize_session=False)
    )
