"""The approval queue: pending override requests and pending run moves in one list, and the
decision on a batch of them.

Users see items in the scopes where they hold ``segments:read``; each item says whether the
caller may decide it and, if not, why (the same reason the decision would give). A batch is
approved or rejected with one mandatory reason, **each item in its own savepoint**: refusals
are reported per item and the others are applied (one refused item does not hold back forty
good ones); an empty reason or no item refuses the whole batch. Overrides are decided by
``overrides.decide_override`` and moves by ``moves.decide_moves``, the same functions the other
pages and the API call, with the same checks (``checks``) and the same notices.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance import overrides
from tierline.governance.checks import ApproverRights
from tierline.governance.models import OverrideRequest
from tierline.governance.moves import MoveCheck, check_moves, decide_moves
from tierline.governance.overrides import RequestFilter
from tierline.governance.service import APPROVAL_SOURCES, ApprovalSource, PendingApproval
from tierline.platform.audit.service import ActingParty
from tierline.platform.errors import DomainError
from tierline.segmentation.service import pending_moves, scheme_infos

KINDS = ("override", "move")
MAX_ITEMS = 500
PAGE_LIMIT = 200
_ITEM = re.compile(r"^([a-z_]{2,20}):(\d{1,18})$")


def _sources() -> dict[str, ApprovalSource]:
    """Other domains' kinds of queue items (``service.APPROVAL_SOURCES``)."""
    return {source.kind: source for source in APPROVAL_SOURCES}


def all_kinds() -> tuple[str, ...]:
    return (*KINDS, *_sources())


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
    link: str | None = None  # another domain's item: its page under the tenant's pages

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

        kind = text("kind", 20)
        return cls(
            kind if kind in all_kinds() else None,
            text("scheme", 40),
            text("scope", 40),
            text("reason", 100),
            text("requested_by", 320),
        )

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


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
    session: AsyncSession, where: QueueFilter, rights: ApproverRights, today: date, limit: int
) -> list[QueueItem]:
    page = await pending_moves(session, where.scheme, "pending", reason=where.reason, limit=limit)
    checked = await check_moves(session, page.rows, rights, today)
    return [_move_item(c) for c in checked if not where.scope or c.scope == where.scope]


def _move_item(checked: MoveCheck) -> QueueItem:
    move = checked.move
    return QueueItem(
        kind="move",
        id=move.id,
        scheme=move.scheme_code,
        entity_key=move.entity_key,
        customer_code=move.customer_code,
        sku=move.sku,
        from_segment=move.from_segment,
        to_segment=move.to_segment,
        tier_jump=checked.tier_jump,
        scope=checked.scope,
        requested_by=f"run {str(move.run_id)[:8]}",
        requested_at=move.created_at,
        reason=", ".join(r.replace("_", " ") for r in move.reasons or []),
        reasons=list(move.reasons or []),
        conflicts=checked.conflicts,
        why_not=str(checked.refusal) if checked.refusal else None,
    )


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
        for item in await _move_items(session, where, rights, today, limit):
            if visible is None or item.scope in visible:
                items.append(item)
    if not (where.scheme or where.scope or where.reason or where.requested_by):
        for source in _sources().values():
            if where.kind in (None, source.kind):
                for pending in await source.pending(session, actor):
                    items.append(_source_item(source, pending, rights))
    for item in items:
        item.decidable = item.why_not is None
    return items


def _source_item(
    source: ApprovalSource, pending: PendingApproval, rights: ApproverRights
) -> QueueItem:
    why_not = pending.why_not
    if why_not is None and source.permission not in rights.held:
        why_not = f"deciding needs {source.permission} for the whole tenant"
    return QueueItem(
        kind=source.kind,
        id=pending.id,
        scheme=source.label,
        entity_key=pending.title,
        customer_code=None,
        sku=None,
        from_segment=None,
        to_segment=pending.summary,
        tier_jump=0,
        scope="*",
        requested_by=pending.requested_by,
        requested_at=pending.requested_at,
        reason=pending.summary,
        why_not=why_not,
        link=pending.link,
    )


# ---------------------------------------------------------------------------------------------
# Deciding a batch


@dataclass
class BatchOutcome:
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def parse_refs(values: list[str]) -> list[tuple[str, int]]:
    refs: dict[tuple[str, int], None] = {}
    kinds = all_kinds()
    for value in values:
        found = _ITEM.match(value.strip())
        if not found or found.group(1) not in kinds:
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
    sources = _sources()
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
                elif kind in sources:
                    source = sources[kind]
                    if source.permission not in rights.held:
                        raise InputRefused(f"deciding needs {source.permission}")
                    await source.decide(session, item_id, decision, actor, reason)
                else:
                    await decide_moves(
                        session,
                        [item_id],
                        "apply" if decision == "approve" else "reject",
                        actor,
                        reason,
                        rights=rights,
                        acknowledge_conflicts=acknowledge_conflicts,
                        tenant_slug=tenant_slug,
                    )
            outcome.done.append(f"{kind}:{item_id}")
        except DomainError as refused:
            outcome.refused.append((f"{kind}:{item_id}", str(refused)))
    return outcome


async def scheme_codes(session: AsyncSession) -> list[str]:
    """Codes of the schemes with a version in force (the queue's scheme filter)."""
    return [s.code for s in await scheme_infos(session, published_only=True)]
