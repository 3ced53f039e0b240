"""Deciding the moves a classification run held for approval: apply or reject, all or none.

A run holds a move (``pending``) when a spike drove it, it jumps tiers, too many entities would
move, or it would break a customer's contract (a first assignment too). The moves page, its API
and the approval queue all decide through :func:`decide_moves`, which puts every move through
the checks an override passes (``checks``): ``overrides:approve`` in the entity's business
scope, ``overrides:approve_major`` for a jump of more than one tier and, when applying, no
contract conflict unless the governance board acknowledges it (recorded in the audit entry).

The rows belong to segmentation: a decision reads and locks the moves, applies approved ones to
the assignments and records the decision through segmentation's service. Applying tells, in
the same transaction, the account managers (in-app and e-mail) and the customers (a
``segment_change`` notice keyed by the move, so a customer is told once and in the same words
whichever page applied it). Every refusal raises before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import polars as pl
from sqlalchemy import String, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.checks import ApproverRights, Refusal, contract_refusal, rights_refusal
from tierline.governance.notices import notices_for_applied_moves
from tierline.governance.overrides import entity_scopes, tier_jump, tier_positions
from tierline.governance.recipients import email_address
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.notifications.service import notify_many
from tierline.segmentation.service import (
    Move,
    Scheme,
    SchemeNotFound,
    SchemeRefused,
    apply_moves,
    lock_moves,
    open_assignments,
    published,
    record_decision,
)
from tierline.service_levels.service import contract_conflicts, contracted_customers

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


# ---------------------------------------------------------------------------------------------
# What deciding a move depends on (the decision itself, the moves page and the queue)


class Schemes:
    """Published schemes, parsed once per request (None for one without a version in force)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._found: dict[str, Scheme | None] = {}

    async def get(self, code: str) -> Scheme | None:
        if code not in self._found:
            try:
                self._found[code] = (await published(self._session, code)).scheme
            except (SchemeNotFound, SchemeRefused):
                self._found[code] = None
        return self._found[code]


def move_tier_jump(scheme: Scheme | None, move: Move) -> int:
    """How many tiers the move jumps, counted as for overrides; a move the run held for its
    jump (reason ``tier_jump``) counts as a major one even if the scheme changed since."""
    jump = 0
    if scheme is not None and move.to_segment in tier_positions(scheme):
        jump = tier_jump(scheme, move.from_segment, move.to_segment)
    if "tier_jump" in (move.reasons or []):
        jump = max(jump, 2)
    return jump


@dataclass(frozen=True)
class MoveCheck:
    """A move with what deciding it depends on: the entity's business scope, the tier jump,
    the contract conflicts of applying it now, and why the decider's rights do not reach it
    (None: they do; a conflict also needs the board's acknowledgement, see ``checks``)."""

    move: Move
    scope: str
    tier_jump: int
    conflicts: list[str]
    refusal: Refusal | None


async def check_moves(
    session: AsyncSession,
    moves: Sequence[Move],
    rights: ApproverRights,
    day: date,
    *,
    schemes: Schemes | None = None,
    conflicts: bool = True,
) -> list[MoveCheck]:
    """Each move checked as an override would be (decision rights in its scope, the board for
    major jumps) and, with ``conflicts``, its contract conflicts on ``day``."""
    schemes = schemes or Schemes(session)
    customers, products = await entity_scopes(
        session,
        [m.customer_code for m in moves if m.customer_code],
        [m.sku for m in moves if m.sku and not m.customer_code],
    )
    contracted: set[str] = set()
    if conflicts:
        codes = [m.customer_code for m in moves if m.customer_code]
        contracted = await contracted_customers(session, codes, day)
    checked = []
    for move in moves:
        scope = (
            customers.get(move.customer_code, "*")
            if move.customer_code
            else products.get(move.sku or "", "*")
        )
        jump = move_tier_jump(await schemes.get(move.scheme_code), move)
        found: list[str] = []
        if move.customer_code is not None and move.customer_code in contracted:
            found = await contract_conflicts(
                session, move.customer_code, move.scheme_code, move.to_segment, day
            )
        refusal = rights_refusal(f"move #{move.id}", scope, jump, rights)
        checked.append(MoveCheck(move, scope, jump, found, refusal))
    return checked


def _refuse_any(refusals: Sequence[Refusal]) -> None:
    """All or nothing: one refusal refuses the whole decision (a missing right first)."""
    if not refusals:
        return
    forbidden = [r.message for r in refusals if r.kind == "forbidden"]
    if forbidden:
        raise MovesForbidden("; ".join(forbidden[:20]))
    raise MovesRefused("; ".join(r.message for r in refusals[:20]))


# ---------------------------------------------------------------------------------------------
# Deciding


async def decide_moves(
    session: AsyncSession,
    ids: Sequence[int],
    decision: Literal["apply", "reject"],
    actor: ActingParty,
    reason: str,
    *,
    rights: ApproverRights,
    acknowledge_conflicts: bool = False,
    tenant_slug: str | None = None,
    today: date | None = None,
) -> int:
    """Apply or reject pending moves, all or none; returns how many were decided. Every page
    and API that decides a move calls this.

    Refused, with nothing changed, when the reason is empty, a move is unknown or no longer
    pending, or the decider lacks ``overrides:approve`` in a move's scope or, for a jump of
    more than one tier, ``overrides:approve_major`` there (``MovesForbidden``). Applying is
    also refused when the assignment in force is not the one a move starts from, and when a
    move would break a customer's contract, unless the governance board acknowledges it
    (``acknowledge_conflicts``; the audit entry records the conflicts acknowledged). Applying
    closes the open assignment and opens the new one (source from the move, reason
    ``approved: …``) and tells account managers and customers in the same transaction.
    """
    unique = _check_decision(ids, decision, reason)
    reason = reason.strip()
    moves = await _locked_moves(session, unique)
    today = today or datetime.now(UTC).date()
    schemes = Schemes(session)
    applying = decision == "apply"
    checked = await check_moves(session, moves, rights, today, schemes=schemes, conflicts=applying)
    _refuse_any([c.refusal for c in checked if c.refusal is not None])
    now = datetime.now(UTC)
    if applying:
        await _check_in_force(session, moves)
        _refuse_any(
            [
                Refusal(refused.kind, f"move #{c.move.id}: {refused.message}")
                for c in checked
                if (
                    refused := contract_refusal(c.conflicts, acknowledge_conflicts, c.scope, rights)
                )
            ]
        )
        await apply_moves(session, moves, reason=f"approved: {reason}", by=actor.name, at=now)
    status = "applied" if applying else "rejected"
    await record_decision(session, unique, status, by=actor.name, at=now, reason=reason)
    for c in checked:
        move = c.move
        await record_by(
            session,
            actor,
            f"segments.move.{decision}",
            "segment_assignment",
            f"{move.scheme_code}:{move.entity_key}",
            before={"segment": move.from_segment, "move": move.id, "status": "pending"},
            after={
                "segment": move.to_segment if applying else move.from_segment,
                "move": move.id,
                "status": status,
                "run": str(move.run_id),
                "scope": c.scope,
                "tier_jump": c.tier_jump,
                "conflicts_acknowledged": c.conflicts or None,
            },
            reason=reason,
        )
    if applying:
        await _notify_managers(session, moves, reason, tenant_slug)
        await _tell_customers(session, moves, schemes, today)
    return len(moves)


async def _check_in_force(session: AsyncSession, moves: list[Move]) -> None:
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


async def _tell_customers(
    session: AsyncSession, moves: list[Move], schemes: Schemes, day: date
) -> None:
    """A ``segment_change`` notice per moved customer, keyed by the move: applied from the
    queue, the moves page or the API, a customer is told once and in the same words."""
    by_scheme: dict[str, list[Move]] = {}
    for move in moves:
        if move.customer_code and not move.sku:
            by_scheme.setdefault(move.scheme_code, []).append(move)
    for code, group in by_scheme.items():
        scheme = await schemes.get(code)
        if scheme is None:
            continue
        applied = pl.DataFrame(
            {
                "customer_code": [m.customer_code for m in group],
                "previous_segment": [m.from_segment for m in group],
                "segment": [m.to_segment for m in group],
                "batch": [f"move{m.id}" for m in group],
            },
            schema={
                "customer_code": pl.String,
                "previous_segment": pl.String,
                "segment": pl.String,
                "batch": pl.String,
            },
        )
        await notices_for_applied_moves(session, scheme, applied, day)


async def _notify_managers(
    session: AsyncSession, moves: list[Move], reason: str, tenant_slug: str | None
) -> int:
    """One notification per account manager listing their customers' approved moves."""
    customers = sorted({m.customer_code for m in moves if m.customer_code})
    if not customers:
        return 0
    managers = await session.execute(
        select(_customers.c.code, _customers.c.account_manager_email).where(
            _customers.c.code.in_(customers), _customers.c.account_manager_email.is_not(None)
        )
    )
    # what master data holds that is not an e-mail address reaches nobody
    manager_of = {
        str(code): address
        for code, email in managers.all()
        if (address := email_address(str(email)))
    }
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
