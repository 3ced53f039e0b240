"""Deciding the moves a classification run held for approval: apply or reject, all or none.

A run holds a move (``pending``) when a spike drove it, it jumps tiers, too many entities would
move, or it would break a customer's contract; the moves page, its API and the approval queue
decide it here. The rows belong to segmentation: a decision reads and locks the moves, applies
approved ones to the assignments and records the decision through segmentation's service.
Every refusal raises before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import polars as pl
from sqlalchemy import String, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.notifications.service import notify_many
from tierline.segmentation.service import (
    Move,
    apply_moves,
    lock_moves,
    open_assignments,
    record_decision,
)

MAX_DECISION = 1000  # moves decided in one request

# Master data is read through a lightweight table clause (the masterdata package has no service
# for it); the unit of work's search_path binds it to the tenant schema.
_customers = table(
    "customers",
    column("code", String),
    column("account_manager_email", String),
)


class MovesRefused(DomainError):
    status_code = 409
    title = "Decision refused"


class MovesForbidden(DomainError):
    status_code = 403
    title = "Decision not allowed"


class MovesNotFound(DomainError):
    status_code = 404
    title = "Not Found"


def _check_decision(ids: Sequence[int], decision: str, reason: str) -> list[int]:
    if decision not in ("apply", "reject"):
        raise MovesRefused("decision: choose apply or reject")
    if not reason.strip():
        raise MovesRefused("reason: say why (it goes into the audit log)")
    unique = sorted(set(ids))
    if not unique:
        raise MovesRefused("moves: choose at least one move")
    if len(unique) > MAX_DECISION:
        raise MovesRefused(f"moves: at most {MAX_DECISION} at once")
    return unique


async def _locked_moves(session: AsyncSession, ids: list[int]) -> list[Move]:
    rows = await lock_moves(session, ids)
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise MovesNotFound(f"moves {', '.join(map(str, missing[:20]))}: no such move")
    decided = [r for r in rows if r.status != "pending"]
    if decided:
        listed = ", ".join(f"{r.id} ({r.status})" for r in decided[:20])
        raise MovesRefused(f"already decided, nothing was changed: {listed}")
    return rows


async def decide_moves(
    session: AsyncSession,
    ids: Sequence[int],
    decision: Literal["apply", "reject"],
    actor: ActingParty,
    reason: str,
    *,
    allow_major: bool = True,
    tenant_slug: str | None = None,
) -> int:
    """Apply or reject pending moves, all or none; returns how many were decided.

    Refused (``MovesRefused``, nothing changed) when the reason is empty, a move is unknown or
    no longer pending, or (apply) the assignment in force is not the one the move starts from.
    Moves that jump tiers (reason ``tier_jump``) need ``allow_major`` (the caller holds
    ``overrides:approve_major``). Applying closes the open assignment and opens the new one
    (source from the move, reason ``approved: …``); account managers of moved customers are
    notified in the same transaction.
    """
    unique = _check_decision(ids, decision, reason)
    reason = reason.strip()
    moves = await _locked_moves(session, unique)
    if not allow_major:
        major = [m.id for m in moves if "tier_jump" in (m.reasons or [])]
        if major:
            raise MovesForbidden(
                "moves that jump tiers need overrides:approve_major: "
                + ", ".join(map(str, major[:20]))
            )
    now = datetime.now(UTC)
    if decision == "apply":
        await _apply(session, moves, actor, reason, now)
    status = "applied" if decision == "apply" else "rejected"
    await record_decision(session, unique, status, by=actor.name, at=now, reason=reason)
    for move in moves:
        await record_by(
            session,
            actor,
            f"segments.move.{decision}",
            "segment_assignment",
            f"{move.scheme_code}:{move.entity_key}",
            before={"segment": move.from_segment, "move": move.id, "status": "pending"},
            after={
                "segment": move.to_segment if decision == "apply" else move.from_segment,
                "move": move.id,
                "status": status,
                "run": str(move.run_id),
            },
            reason=reason,
        )
    if decision == "apply":
        await _notify_managers(session, moves, reason, tenant_slug)
    return len(moves)


async def _apply(
    session: AsyncSession,
    moves: list[Move],
    actor: ActingParty,
    reason: str,
    now: datetime,
) -> None:
    current = await open_assignments(
        session, [(m.scheme_code, m.entity_key) for m in moves], lock=True
    )
    stale = [
        m.id
        for m in moves
        if (
            current[(m.scheme_code, m.entity_key)].segment
            if (m.scheme_code, m.entity_key) in current
            else None
        )
        != m.from_segment
    ]
    if stale:
        raise MovesRefused(
            "the assignment in force changed since the run, nothing was changed: moves "
            + ", ".join(map(str, stale[:20]))
        )
    await apply_moves(session, moves, reason=f"approved: {reason}", by=actor.name, at=now)


async def _notify_managers(
    session: AsyncSession, moves: list[Move], reason: str, tenant_slug: str | None
) -> int:
    """One notification per account manager listing their customers' approved moves."""
    customers = sorted({m.customer_code for m in moves if m.customer_code})
    if not customers:
        return 0
    managers = await session.execute(
        select(_customers.c.code, func.lower(_customers.c.account_manager_email)).where(
            _customers.c.code.in_(customers), _customers.c.account_manager_email.is_not(None)
        )
    )
    manager_of = {str(code): str(email) for code, email in managers.all()}
    frame = pl.DataFrame(
        {
            "manager": [manager_of.get(m.customer_code or "") for m in moves],
            "line": [
                f"- {m.customer_code}{' / ' + m.sku if m.sku and m.customer_code else ''} "
                f"({m.scheme_code}): {m.from_segment or 'none'} -> {m.to_segment}"
                for m in moves
            ],
        },
        schema={"manager": pl.String, "line": pl.String},
    ).drop_nulls("manager")
    batch = uuid.uuid4().hex
    items = []
    for (manager,), group in frame.group_by("manager", maintain_order=True):
        count = group.height
        lines = group["line"].head(40).to_list()
        if count > 40:
            lines.append(f"... and {count - 40} more")
        items.append(
            (
                str(manager),
                f"{count} customer{'s' if count != 1 else ''} moved segment (approved)",
                f"Approved with the reason: {reason}\n" + "\n".join(lines),
                f"/t/{tenant_slug}/segments/moves?status=applied" if tenant_slug else "",
                f"segment-decision:{batch}",
            )
        )
    return await notify_many(session, items, kind="segment_move")
