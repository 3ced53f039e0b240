"""Opening and closing assignment rows for changes decided outside a run.

Governance decides overrides and pending moves; the rows they change belong here. A change
closes the entity's open row (``valid_to``) and opens the new one at the same instant, so
nothing is overwritten and at most one row per entity is open. Callers get plain data back,
never the rows themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.segmentation.models import RunResult, SegmentAssignment, SegmentationRun


@dataclass(frozen=True)
class Assignment:
    """One assignment row: an entity's segment in a scheme from ``valid_from`` until
    (excluding) ``valid_to``, open-ended while ``valid_to`` is None."""

    id: int
    scheme_code: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    segment: str
    valid_from: datetime
    valid_to: datetime | None
    run_id: uuid.UUID | None
    source: str
    reason: str | None
    created_by: str | None


@dataclass(frozen=True)
class NewAssignment:
    """A segment to put an entity in; ``source`` is rule | exception | override | manual."""

    scheme_code: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    segment: str
    source: str
    reason: str
    created_by: str
    run_id: uuid.UUID | None = None


def _plain(row: SegmentAssignment) -> Assignment:
    return Assignment(
        row.id,
        row.scheme_code,
        row.entity_key,
        row.customer_code,
        row.sku,
        row.segment,
        row.valid_from,
        row.valid_to,
        row.run_id,
        row.source,
        row.reason,
        row.created_by,
    )


async def _open_rows(
    session: AsyncSession, pairs: Iterable[tuple[str, str]], *, lock: bool
) -> dict[tuple[str, str], SegmentAssignment]:
    a = SegmentAssignment
    conditions = [and_(a.scheme_code == s, a.entity_key == k) for s, k in set(pairs)]
    if not conditions:
        return {}
    query = select(a).where(a.valid_to.is_(None), or_(*conditions))
    if lock:
        query = query.with_for_update()
    rows = (await session.execute(query)).scalars()
    return {(row.scheme_code, row.entity_key): row for row in rows}


async def open_assignment(
    session: AsyncSession, scheme_code: str, entity_key: str, *, lock: bool = False
) -> Assignment | None:
    """The entity's assignment in force; ``lock`` holds it until the transaction ends."""
    query = select(SegmentAssignment).where(
        SegmentAssignment.scheme_code == scheme_code,
        SegmentAssignment.entity_key == entity_key,
        SegmentAssignment.valid_to.is_(None),
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    return None if row is None else _plain(row)


async def open_assignments(
    session: AsyncSession, pairs: Iterable[tuple[str, str]], *, lock: bool = False
) -> dict[tuple[str, str], Assignment]:
    """(scheme, entity key) -> the assignment in force, for the pairs that have one."""
    rows = await _open_rows(session, pairs, lock=lock)
    return {pair: _plain(row) for pair, row in rows.items()}


async def assignment(
    session: AsyncSession, assignment_id: int, *, lock: bool = False
) -> Assignment | None:
    row = await session.get(SegmentAssignment, assignment_id, with_for_update=lock or None)
    return None if row is None else _plain(row)


async def start_assignments(
    session: AsyncSession, changes: Sequence[NewAssignment], at: datetime
) -> list[int]:
    """Close each entity's open row at ``at`` and open the new one from ``at``; the new rows'
    ids, in the order of ``changes``."""
    current = await _open_rows(session, ((c.scheme_code, c.entity_key) for c in changes), lock=True)
    for change in changes:
        found = current.get((change.scheme_code, change.entity_key))
        if found is not None:
            found.valid_to = at
    await session.flush()  # close before open: at most one open row per entity
    rows = [
        SegmentAssignment(
            scheme_code=c.scheme_code,
            entity_key=c.entity_key,
            customer_code=c.customer_code,
            sku=c.sku,
            segment=c.segment,
            valid_from=at,
            run_id=c.run_id,
            source=c.source,
            reason=c.reason,
            created_by=c.created_by,
        )
        for c in changes
    ]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def end_assignment(session: AsyncSession, assignment_id: int, at: datetime) -> None:
    """Close one row at ``at`` (an override that ends with nothing to restore)."""
    row = await session.get(SegmentAssignment, assignment_id)
    if row is not None and row.valid_to is None:
        row.valid_to = at
        await session.flush()


async def latest_rule_result(
    session: AsyncSession, scheme_code: str, entity_key: str, replaced_by: int | None
) -> tuple[str, str, Any] | None:
    """(segment, source, run id) the rules last gave the entity: the newest succeeded run's
    result, else the assignment before row ``replaced_by`` (the one an override replaced)."""
    row = (
        await session.execute(
            select(RunResult.segment, RunResult.source, RunResult.run_id)
            .join(SegmentationRun, SegmentationRun.id == RunResult.run_id)
            .where(
                SegmentationRun.scheme_code == scheme_code,
                SegmentationRun.status == "succeeded",
                RunResult.entity_key == entity_key,
            )
            .order_by(SegmentationRun.started_at.desc())
            .limit(1)
        )
    ).first()
    if row is not None:
        return str(row[0]), str(row[1]), row[2]
    if replaced_by is None:
        return None
    before = (
        await session.execute(
            select(SegmentAssignment)
            .where(
                SegmentAssignment.scheme_code == scheme_code,
                SegmentAssignment.entity_key == entity_key,
                SegmentAssignment.id < replaced_by,
            )
            .order_by(SegmentAssignment.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if before is None:
        return None
    return before.segment, before.source, before.run_id
