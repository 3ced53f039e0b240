"""The approval queue: pending override requests and pending run moves in one list, and the
decision on a batch of them.

Users see items in the scopes where they hold ``segments:read``; each item says whether the
caller may decide it and, if not, why (the same reason the decision would give). A batch is
approved or rejected with one mandatory reason, **each item in its own savepoint**: refusals
are reported per item and the others are applied (one refused item does not hold back forty
good ones); an empty reason or no item refuses the whole batch.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance import overrides
from tierline.governance.models import OverrideRequest
from tierline.governance.moves import MovesNotFound, decide_moves
from tierline.governance.notices import notices_for_applied_moves
from tierline.governance.overrides import APPROVE, APPROVE_MAJOR, ApproverRights, RequestFilter
from tierline.platform.audit.service import ActingParty
from tierline.platform.errors import DomainError
from tierline.segmentation.service import (
    Move,
    PublishedScheme,
    Scheme,
    SchemeNotFound,
    SchemeRefused,
    pending_move,
    pending_moves,
    published,
    scheme_infos,
)
from tierline.service_levels.service import contract_conflicts

KINDS = ("override", "move")
MAX_ITEMS = 500
PAGE_LIMIT = 200
_ITEM = re.compile(r"^(override|move):(\d{1,18})$")


class InputRefused(DomainError):
    status_code = 422
    title = "Invalid input"


@dataclass
class QueueItem:
    kind: str
    id: int
    scheme: str
    entity_key: str
    customer_code: str | None
    sku: str | None
    from_segment: str | None
    to_segment: str
    tier_jump: int
    scope: str
    requested_by: str
    requested_at: datetime | None
    reason: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    expires_on: date | None = None
    conflicts: list[str] = field(default_factory=list)
    decidable: bool = False
    why_not: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["ref"] = self.ref
        out["requested_at"] = self.requested_at.isoformat() if self.requested_at else None
        out["expires_on"] = self.expires_on.isoformat() if self.expires_on else None
        return out


@dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None
    scheme: str | None = None
    scope: str | None = None
    reason: str | None = None
    requested_by: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> QueueFilter:
        """From query parameters; values that do not fit are dropped (a link must not fail)."""

        def text(name: str, limit: int) -> str | None:
            return str(raw.get(name) or "").strip()[:limit] or None

        kind = text("kind", 10)
        return cls(
            kind if kind in KINDS else None,
            text("scheme", 40),
            text("scope", 40),
            text("reason", 100),
            text("requested_by", 320),
        )

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


class _Schemes:
    """Published schemes, parsed once per request."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._found: dict[str, PublishedScheme | None] = {}

    async def get(self, code: str) -> Scheme | None:
        if code not in self._found:
            try:
                self._found[code] = await published(self._session, code)
            except (SchemeNotFound, SchemeRefused):
                self._found[code] = None
        found = self._found[code]
        return found.scheme if found else None


def _override_item(row: OverrideRequest) -> QueueItem:
    return QueueItem(
        kind="override",
        id=row.id,
        scheme=row.scheme_code,
        entity_key=row.entity_key,
        customer_code=row.customer_code,
        sku=row.sku,
        from_segment=row.from_segment,
        to_segment=row.to_segment,
        tier_jump=row.tier_jump,
        scope=row.scope,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        reason=row.reason,
        evidence=list(row.evidence or []),
        expires_on=row.expires_on,
    )


async def _move_items(
    session: AsyncSession, where: QueueFilter, schemes: _Schemes, limit: int
) -> list[QueueItem]:
    page = await pending_moves(session, where.scheme, "pending", reason=where.reason, limit=limit)
    customers, products = await overrides.entity_scopes(
        session,
        [m.customer_code for m in page.rows if m.customer_code],
        [m.sku for m in page.rows if m.sku and not m.customer_code],
    )
    items = []
    for move in page.rows:
        scope = (
            customers.get(move.customer_code, "*")
            if move.customer_code
            else products.get(move.sku or "", "*")
        )
        if where.scope and scope != where.scope:
            continue
        scheme = await schemes.get(move.scheme_code)
        jump = (
            overrides.tier_jump(scheme, move.from_segment, move.to_segment)
            if scheme and move.to_segment in overrides.tier_positions(scheme)
            else 0
        )
        if "tier_jump" in (move.reasons or []):
            jump = max(jump, 2)
        items.append(_move_item(move, scope, jump))
    return items


def _move_item(move: Move, scope: str, jump: int) -> QueueItem:
    return QueueItem(
        kind="move",
        id=move.id,
        scheme=move.scheme_code,
        entity_key=move.entity_key,
        customer_code=move.customer_code,
        sku=move.sku,
        from_segment=move.from_segment,
        to_segment=move.to_segment,
        tier_jump=jump,
        scope=scope,
        requested_by=f"run {str(move.run_id)[:8]}",
        requested_at=move.created_at,
        reason=", ".join(r.replace("_", " ") for r in move.reasons or []),
        reasons=list(move.reasons or []),
    )


def _why_not_move(item: QueueItem, rights: ApproverRights) -> str | None:
    if not rights.may_approve(item.scope):
        return f"scope '{item.scope}': you hold no {APPROVE} there"
    if item.tier_jump > 1 and not rights.may_approve_major(item.scope):
        return f"jumps {item.tier_jump} tiers: needs {APPROVE_MAJOR} (governance board)"
    return None


async def approval_queue(
    session: AsyncSession,
    where: QueueFilter,
    *,
    visible: frozenset[str] | None,
    rights: ApproverRights,
    actor: str,
    today: date,
    limit: int = PAGE_LIMIT,
) -> list[QueueItem]:
    """Pending items the caller may see (``visible`` scopes), each marked decidable or not."""
    items: list[QueueItem] = []
    schemes = _Schemes(session)
    if where.kind in (None, "override"):
        rows, _ = await overrides.list_requests(
            session,
            RequestFilter("pending", where.scheme, where.scope, where.reason, where.requested_by),
            scopes=visible,
            limit=limit,
        )
        for row in rows:
            item = _override_item(row)
            refused = overrides.refusal(row, actor, rights, today)
            item.why_not = str(refused) if refused else None
            item.conflicts = await overrides.contract_conflicts_of(session, row, today)
            items.append(item)
    if where.kind in (None, "move") and not where.requested_by:
        for item in await _move_items(session, where, schemes, limit):
            if visible is not None and item.scope not in visible:
                continue
            item.why_not = _why_not_move(item, rights)
            if item.customer_code and not item.sku:
                item.conflicts = await _move_conflicts(session, item, today)
            items.append(item)
    for item in items:
        item.decidable = item.why_not is None
    return items


async def _move_conflicts(session: AsyncSession, item: QueueItem, today: date) -> list[str]:
    if item.customer_code is None:
        return []
    return await contract_conflicts(
        session, item.customer_code, item.scheme, item.to_segment, today
    )


# ---------------------------------------------------------------------------------------------
# Deciding a batch


@dataclass
class BatchOutcome:
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def parse_refs(values: list[str]) -> list[tuple[str, int]]:
    refs: dict[tuple[str, int], None] = {}
    for value in values:
        found = _ITEM.match(value.strip())
        if not found:
            raise InputRefused(f"items: '{value[:30]}' is not an item of the queue")
        refs.setdefault((found.group(1), int(found.group(2))))
    if not refs:
        raise InputRefused("items: tick at least one item")
    if len(refs) > MAX_ITEMS:
        raise InputRefused(f"items: at most {MAX_ITEMS} at once")
    return list(refs)


async def decide_batch(
    session: AsyncSession,
    refs: list[tuple[str, int]],
    decision: str,
    reason: str,
    *,
    rights: ApproverRights,
    actor: ActingParty,
    tenant_slug: str,
    acknowledge_conflicts: bool = False,
) -> BatchOutcome:
    """Each item in its own savepoint: refused items are reported, the others applied."""
    if decision not in ("approve", "reject"):
        raise InputRefused("decision: choose approve or reject")
    if not reason.strip():
        raise InputRefused("reason: say why (it goes into the audit log)")
    outcome = BatchOutcome()
    schemes = _Schemes(session)
    for kind, item_id in refs:
        try:
            async with session.begin_nested():
                if kind == "override":
                    await overrides.decide_override(
                        session,
                        item_id,
                        "approve" if decision == "approve" else "reject",
                        actor,
                        reason,
                        rights=rights,
                        acknowledge_conflicts=acknowledge_conflicts,
                        tenant_slug=tenant_slug,
                    )
                else:
                    await _decide_move(
                        session, item_id, decision, reason, rights, actor, schemes, tenant_slug
                    )
            outcome.done.append(f"{kind}:{item_id}")
        except DomainError as refused:
            outcome.refused.append((f"{kind}:{item_id}", str(refused)))
    return outcome


async def _decide_move(
    session: AsyncSession,
    move_id: int,
    decision: str,
    reason: str,
    rights: ApproverRights,
    actor: ActingParty,
    schemes: _Schemes,
    tenant_slug: str,
) -> None:
    move = await pending_move(session, move_id)
    if move is None:
        raise MovesNotFound(f"there is no move #{move_id}")
    customers, products = await overrides.entity_scopes(
        session, [move.customer_code] if move.customer_code else [], [move.sku] if move.sku else []
    )
    scope = (
        customers.get(move.customer_code, "*")
        if move.customer_code
        else products.get(move.sku or "", "*")
    )
    if not rights.may_approve(scope):
        raise overrides.OverrideForbidden(
            f"move #{move_id} lies in scope '{scope}', where you hold no {APPROVE}"
        )
    await decide_moves(
        session,
        [move_id],
        "apply" if decision == "approve" else "reject",
        actor,
        reason,
        allow_major=rights.may_approve_major(scope),
        tenant_slug=tenant_slug,
    )
    scheme = await schemes.get(move.scheme_code)
    if decision == "approve" and scheme is not None:
        applied = pl.DataFrame(
            {
                "customer_code": [move.customer_code],
                "previous_segment": [move.from_segment],
                "segment": [move.to_segment],
            },
            schema={
                "customer_code": pl.String,
                "previous_segment": pl.String,
                "segment": pl.String,
            },
        )
        await notices_for_applied_moves(
            session, scheme, applied, datetime.now(UTC).date(), batch=f"move{move_id}"
        )


async def scheme_codes(session: AsyncSession) -> list[str]:
    """Codes of the schemes with a version in force (the queue's scheme filter)."""
    return [s.code for s in await scheme_infos(session, published_only=True)]
