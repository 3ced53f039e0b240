"""Manual segment overrides with maker-checker approval, and their expiry.

A request names an entity, the segment it should move to, a reason, evidence and an expiry
date. It is decided by someone else:

- the requester never decides its own request (``cancel_override`` withdraws it instead);
- the approver holds ``overrides:approve`` in the request's scope (the entity's business scope,
  copied from master data when the request was made), and ``overrides:approve_major`` there
  when the move jumps more than one tier;
- a pending request whose expiry date has come, or one decided already, is refused;
- a move that would put a customer below its contract (service levels' ``contract_conflicts``)
  is refused with the conflicts listed, unless the approver holds ``overrides:approve_major`` and
  acknowledges them (``acknowledge_conflicts=True``): the governance board may knowingly accept
  a contract breach (e.g. the contract is being renegotiated), a planner may not. The
  acknowledged conflicts are kept on the request and in the audit entry.

The decision rights and the contract rule are ``checks``', which the pending moves of runs pass
too (``moves.decide_moves``). The requester and the account manager are told of the decision,
people only (``recipients``). Every refusal raises before anything is written, so the caller's
transaction changes nothing.
An approval closes the assignment in force and opens one with source ``override`` (through
segmentation's service, which owns the rows); rule runs then leave the entity alone. On its
expiry date the override is reverted: the override assignment is closed and the latest rule
result restored (the entity's newest run result, else the assignment the override replaced).

Tier jump: the distance between the two segments' positions in rank order; an entity without
a segment in force is counted as if in the lowest segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import String, and_, column, func, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.checks import (
    ApproverRights,
    Refusal,
    contract_refusal,
    rights_refusal,
)
from tierline.governance.models import OverrideRequest
from tierline.governance.notices import create_customer_notice
from tierline.governance.recipients import email_address, people
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.notifications.service import notify
from tierline.segmentation.service import (
    Assignment,
    NewAssignment,
    PublishedScheme,
    Scheme,
    SchemeNotFound,
    SchemeRefused,
    assignment,
    end_assignment,
    latest_rule_result,
    open_assignment,
    published,
    start_assignments,
)
from tierline.service_levels.service import contract_conflicts, segment_entitlements

MAX_EXPIRY_DAYS = 366
MAX_REASON = 2000
MAX_EVIDENCE = 10
MAX_EVIDENCE_ITEM = 500
Decision = Literal["approve", "reject"]

_customers = table(
    "customers",
    column("code", String),
    column("scope", String),
    column("account_manager_email", String),
)
_products = table("products", column("sku", String), column("scope", String))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class OverrideInvalid(DomainError):
    status_code = 422
    title = "Override request invalid"


class OverrideRefused(DomainError):
    status_code = 409
    title = "Override refused"


class OverrideForbidden(DomainError):
    status_code = 403
    title = "Override not allowed"


class OverrideNotFound(DomainError):
    status_code = 404
    title = "Not Found"


@dataclass(frozen=True)
class Entity:
    """An entity as an override sees it: its keys, business scope and segment in force."""

    key: str
    customer_code: str | None
    sku: str | None
    scope: str
    current: Assignment | None


@dataclass
class ExpiryOutcome:
    reverted: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Pure helpers


def tier_positions(scheme: Scheme) -> dict[str, int]:
    """Segment code -> position in rank order (0 = highest priority)."""
    ordered = sorted(scheme.segments, key=lambda s: (s.rank, s.code))
    return {segment.code: position for position, segment in enumerate(ordered)}


def tier_jump(scheme: Scheme, from_segment: str | None, to_segment: str) -> int:
    positions = tier_positions(scheme)
    start = positions.get(from_segment or "", len(positions) - 1)
    return abs(positions[to_segment] - start)


def clean_evidence(evidence: Sequence[str] | str | None) -> list[str]:
    """Evidence as a list of short texts or URLs (one per line when given as text)."""
    items = evidence.splitlines() if isinstance(evidence, str) else list(evidence or [])
    cleaned = [_CONTROL.sub("", str(item)).strip() for item in items]
    kept = [item for item in cleaned if item]
    if len(kept) > MAX_EVIDENCE:
        raise OverrideInvalid(f"evidence: at most {MAX_EVIDENCE} items")
    if any(len(item) > MAX_EVIDENCE_ITEM for item in kept):
        raise OverrideInvalid(f"evidence: each item at most {MAX_EVIDENCE_ITEM} characters")
    return kept


def _check_request(reason: str, expires_on: date | None, today: date) -> str:
    reason = _CONTROL.sub("", reason or "").strip()
    if not reason:
        raise OverrideInvalid("reason: say why the segment should change")
    if len(reason) > MAX_REASON:
        raise OverrideInvalid(f"reason: at most {MAX_REASON} characters")
    if expires_on is None:
        raise OverrideInvalid("expires_on: an override needs an expiry date")
    if expires_on <= today:
        raise OverrideInvalid("expires_on: choose a date after today")
    if expires_on > today + timedelta(days=MAX_EXPIRY_DAYS):
        raise OverrideInvalid(f"expires_on: at most {MAX_EXPIRY_DAYS} days ahead")
    return reason


def _same_person(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


# ---------------------------------------------------------------------------------------------
# Reading entities


def split_entity_key(entity_kind: str, key: str) -> tuple[str | None, str | None]:
    if entity_kind == "customer":
        return key, None
    if entity_kind == "product":
        return None, key
    customer, sep, sku = key.partition("|")
    if not sep or not customer or not sku:
        raise OverrideNotFound(f"'{key}' is not a customer|sku key")
    return customer, sku


async def _entity_scope(
    session: AsyncSession, customer_code: str | None, sku: str | None
) -> str | None:
    if customer_code is not None:
        query = select(_customers.c.scope).where(_customers.c.code == customer_code)
    else:
        query = select(_products.c.scope).where(_products.c.sku == sku)
    found = (await session.execute(query)).scalar_one_or_none()
    return None if found is None else str(found or "*")


async def find_entity(session: AsyncSession, found: PublishedScheme, entity_key: str) -> Entity:
    """The entity of ``found``'s kind, from master data; OverrideNotFound if there is none."""
    key = entity_key.strip()
    customer_code, sku = split_entity_key(found.scheme.entity, key)
    scope = await _entity_scope(session, customer_code, sku)
    if scope is None:
        raise OverrideNotFound(f"there is no {found.scheme.entity} '{key}'")
    return Entity(key, customer_code, sku, scope, await open_assignment(session, found.code, key))


async def _published(session: AsyncSession, scheme_code: str) -> PublishedScheme:
    try:
        return await published(session, scheme_code)
    except SchemeNotFound:
        raise OverrideNotFound(f"there is no scheme '{scheme_code}'") from None
    except SchemeRefused as refused:
        raise OverrideInvalid(f"scheme: {refused}") from None


def _in_scopes(scope: str, scopes: frozenset[str] | None) -> bool:
    return scopes is None or scope in scopes


# ---------------------------------------------------------------------------------------------
# Requesting


async def request_override(
    session: AsyncSession,
    actor: ActingParty,
    scheme_code: str,
    entity_key: str,
    to_segment: str,
    reason: str,
    evidence: Sequence[str] | str | None,
    expires_on: date | None,
    *,
    scopes: frozenset[str] | None = None,
    today: date | None = None,
) -> OverrideRequest:
    """File a pending request. ``scopes``: where the requester holds ``overrides:request``
    (None = everywhere); an entity outside them does not exist for the requester."""
    today = today or datetime.now(UTC).date()
    reason = _check_request(reason, expires_on, today)
    assert expires_on is not None
    items = clean_evidence(evidence)
    found = await _published(session, scheme_code)
    entity = await find_entity(session, found, entity_key)
    if not _in_scopes(entity.scope, scopes):
        raise OverrideNotFound(f"there is no {found.scheme.entity} '{entity.key}'")
    if to_segment not in tier_positions(found.scheme):
        names = ", ".join(s.code for s in found.scheme.segments)
        raise OverrideInvalid(
            f"to_segment: '{to_segment}' is not a segment of {found.code} ({names})"
        )
    current = entity.current.segment if entity.current else None
    if current == to_segment:
        raise OverrideInvalid(f"to_segment: the entity is in {to_segment} already")
    request = OverrideRequest(
        scheme_code=found.code,
        entity_key=entity.key,
        customer_code=entity.customer_code,
        sku=entity.sku,
        from_segment=current,
        to_segment=to_segment,
        tier_jump=tier_jump(found.scheme, current, to_segment),
        reason=reason,
        evidence=items,
        expires_on=expires_on,
        scope=entity.scope,
        requested_by=actor.name,
        requested_at=datetime.now(UTC),
        status="pending",
    )
    try:
        async with session.begin_nested():
            session.add(request)
            await session.flush()
    except IntegrityError:
        raise OverrideRefused(
            f"{entity.key} has a pending override request in {found.code} already; "
            "decide or cancel that one first"
        ) from None
    await record_by(
        session,
        actor,
        "overrides.request",
        "override_request",
        str(request.id),
        after=request_public_dict(request),
        reason=reason,
    )
    return request


def request_public_dict(request: OverrideRequest) -> dict[str, Any]:
    """The request as the API and the audit log show it (staff only)."""
    return {
        "id": request.id,
        "scheme": request.scheme_code,
        "entity_key": request.entity_key,
        "customer_code": request.customer_code,
        "sku": request.sku,
        "from_segment": request.from_segment,
        "to_segment": request.to_segment,
        "tier_jump": request.tier_jump,
        "reason": request.reason,
        "evidence": list(request.evidence or []),
        "expires_on": request.expires_on.isoformat(),
        "scope": request.scope,
        "status": request.status,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at.isoformat() if request.requested_at else None,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "decision_reason": request.decision_reason,
        "conflicts_acknowledged": request.conflicts_acknowledged,
        "assignment_id": request.assignment_id,
    }


# ---------------------------------------------------------------------------------------------
# Deciding


async def _locked_request(session: AsyncSession, request_id: int) -> OverrideRequest:
    row = (
        await session.execute(
            select(OverrideRequest).where(OverrideRequest.id == request_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise OverrideNotFound(f"there is no override request #{request_id}")
    return row


def refusal(
    request: OverrideRequest, approver: str, rights: ApproverRights, today: date
) -> OverrideRefused | OverrideForbidden | None:
    """Why ``approver`` may not decide ``request`` (None when they may). Pure, so the queue
    shows the same reason the decision would give."""
    if request.status != "pending":
        return OverrideRefused(
            f"request #{request.id} was {request.status} already"
            + (f" by {request.decided_by}" if request.decided_by else "")
            + "; nothing was changed"
        )
    if request.expires_on <= today:
        return OverrideRefused(
            f"request #{request.id} expired on {request.expires_on.isoformat()} before a "
            "decision; nothing was changed"
        )
    if _same_person(request.requested_by, approver):
        return OverrideForbidden(
            f"request #{request.id} is your own: someone else must decide it (maker-checker)"
        )
    denied = rights_refusal(f"request #{request.id}", request.scope, request.tier_jump, rights)
    return None if denied is None else _as_error(denied)


def _as_error(refused: Refusal) -> OverrideRefused | OverrideForbidden:
    if refused.kind == "forbidden":
        return OverrideForbidden(refused.message)
    return OverrideRefused(refused.message)


async def contract_conflicts_of(
    session: AsyncSession, request: OverrideRequest, day: date
) -> list[str]:
    """Service levels' ``contract_conflicts`` for the move (customer entities only)."""
    if request.customer_code is None:
        return []
    found = await contract_conflicts(
        session, request.customer_code, request.scheme_code, request.to_segment, day
    )
    return list(found)


async def decide_override(
    session: AsyncSession,
    request_id: int,
    decision: Decision,
    approver: ActingParty,
    reason: str,
    *,
    rights: ApproverRights,
    acknowledge_conflicts: bool = False,
    today: date | None = None,
    tenant_slug: str | None = None,
) -> OverrideRequest:
    """Approve or reject a pending request (see the module docstring for every refusal)."""
    today = today or datetime.now(UTC).date()
    if decision not in ("approve", "reject"):
        raise OverrideInvalid("decision: choose approve or reject")
    reason = _CONTROL.sub("", reason or "").strip()[:MAX_REASON]
    if not reason:
        raise OverrideInvalid("reason: say why (it goes into the audit log)")
    request = await _locked_request(session, request_id)
    refused = refusal(request, approver.name, rights, today)
    if refused is not None:
        raise refused
    now = datetime.now(UTC)
    if decision == "approve":
        await _approve(session, request, approver, reason, rights, acknowledge_conflicts, now)
    request.status = "approved" if decision == "approve" else "rejected"
    request.decided_by = approver.name
    request.decided_at = now
    request.decision_reason = reason
    await session.flush()
    await record_by(
        session,
        approver,
        f"overrides.{decision}",
        "override_request",
        str(request.id),
        before={"status": "pending", "segment": request.from_segment},
        after={
            "status": request.status,
            "segment": request.to_segment if decision == "approve" else request.from_segment,
            "scheme": request.scheme_code,
            "entity_key": request.entity_key,
            "assignment_id": request.assignment_id,
            "conflicts_acknowledged": request.conflicts_acknowledged,
        },
        reason=reason,
    )
    await _tell_people(session, request, tenant_slug, f"{decision}d", reason)
    return request


async def _approve(
    session: AsyncSession,
    request: OverrideRequest,
    approver: ActingParty,
    reason: str,
    rights: ApproverRights,
    acknowledge: bool,
    now: datetime,
) -> None:
    found = await _published(session, request.scheme_code)
    if request.to_segment not in tier_positions(found.scheme):
        raise OverrideRefused(
            f"segment {request.to_segment} is no longer in scheme {request.scheme_code}; "
            "nothing was changed"
        )
    current = await open_assignment(session, request.scheme_code, request.entity_key, lock=True)
    in_force = current.segment if current else None
    if in_force != request.from_segment:
        raise OverrideRefused(
            f"the segment in force changed since the request ({request.from_segment or 'none'}"
            f" -> {in_force or 'none'}); nothing was changed, ask for a new override"
        )
    conflicts = await contract_conflicts_of(session, request, now.date())
    refused = contract_refusal(conflicts, acknowledge, request.scope, rights)
    if refused is not None:
        raise _as_error(refused)
    if conflicts:
        request.conflicts_acknowledged = conflicts
    old_entitlements = await segment_entitlements(
        session, request.scheme_code, in_force, now.date()
    )
    (request.assignment_id,) = await start_assignments(
        session,
        [
            NewAssignment(
                scheme_code=request.scheme_code,
                entity_key=request.entity_key,
                customer_code=request.customer_code,
                sku=request.sku,
                segment=request.to_segment,
                source="override",
                reason=f"override #{request.id} until {request.expires_on.isoformat()}: {reason}",
                created_by=approver.name,
            )
        ],
        now,
    )
    await _customer_notice(
        session,
        request,
        found.scheme,
        kind="override",
        old=in_force,
        new=request.to_segment,
        old_entitlements=old_entitlements,
        day=now.date(),
    )


async def cancel_override(
    session: AsyncSession, request_id: int, actor: ActingParty, reason: str
) -> OverrideRequest:
    """The requester withdraws its own pending request."""
    request = await _locked_request(session, request_id)
    if not _same_person(request.requested_by, actor.name):
        raise OverrideForbidden(f"only {request.requested_by} may cancel request #{request_id}")
    if request.status != "pending":
        raise OverrideRefused(f"request #{request_id} was {request.status} already")
    request.status = "cancelled"
    request.decided_by = actor.name
    request.decided_at = datetime.now(UTC)
    request.decision_reason = (reason or "").strip()[:MAX_REASON] or "cancelled by the requester"
    await session.flush()
    await record_by(
        session,
        actor,
        "overrides.cancel",
        "override_request",
        str(request.id),
        before={"status": "pending"},
        after={"status": "cancelled"},
        reason=request.decision_reason,
    )
    return request


# ---------------------------------------------------------------------------------------------
# Telling people


async def _customer_notice(
    session: AsyncSession,
    request: OverrideRequest,
    scheme: Scheme,
    *,
    kind: str,
    old: str | None,
    new: str,
    old_entitlements: dict[str, Any] | None,
    day: date,
) -> None:
    if scheme.entity != "customer" or request.customer_code is None:
        return
    await create_customer_notice(
        session,
        customer_code=request.customer_code,
        kind=kind,
        effective_date=day,
        old_segment=old,
        new_segment=new,
        old_entitlements=old_entitlements,
        new_entitlements=await segment_entitlements(session, scheme.code, new, day),
        dedupe_key=f"{kind}:{request.scheme_code}:{request.id}",
        scheme_code=scheme.code,
        segment_names={s.code: s.name for s in scheme.segments},
        until=request.expires_on if kind == "override" else None,
    )


async def account_manager_of(session: AsyncSession, customer_code: str | None) -> str | None:
    if customer_code is None:
        return None
    found = (
        await session.execute(
            select(_customers.c.account_manager_email).where(_customers.c.code == customer_code)
        )
    ).scalar_one_or_none()
    return str(found).lower() if found else None


async def _tell_people(
    session: AsyncSession,
    request: OverrideRequest,
    tenant_slug: str | None,
    what: str,
    reason: str,
) -> None:
    """The requester and the customer's account manager, in-app and by e-mail: people only
    (``recipients``). A request a machine client made tells its account manager, not the
    client, which has no address to write to."""
    manager = email_address(await account_manager_of(session, request.customer_code))
    recipients = [
        *await people(session, [request.requested_by]),
        *([manager] if manager else []),
    ]
    if not recipients:
        return
    move = f"{request.from_segment or 'none'} -> {request.to_segment}"
    titles = {
        "approved": f"Override approved: {request.entity_key} {move}",
        "rejected": f"Override rejected: {request.entity_key} {move}",
        "reverted": f"Override ended: {request.entity_key} back from {request.to_segment}",
        "expired": f"Override request expired: {request.entity_key} {move}",
    }
    body = (
        f"Override request #{request.id} ({request.scheme_code}, {request.entity_key}: {move}) "
        f"was {what}.\nReason: {reason}\nRequested by {request.requested_by}: {request.reason}"
    )
    await notify(
        session,
        recipients=recipients,
        kind="override",
        title=titles.get(what, f"Override {what}: {request.entity_key}"),
        body=body,
        link=f"/t/{tenant_slug}/approvals?kind=override&status=all" if tenant_slug else None,
        dedupe_key=f"override:{request.id}:{what}",
    )


# ---------------------------------------------------------------------------------------------
# Expiry


async def _revert(
    session: AsyncSession, request: OverrideRequest, actor: ActingParty, now: datetime
) -> str | None:
    """Close the override assignment (if still in force) and restore; the restored segment."""
    override = (
        await assignment(session, request.assignment_id, lock=True)
        if request.assignment_id
        else None
    )
    if override is None or override.valid_to is not None:
        return None  # replaced in the meantime (a later override or manual change): keep that
    restored = await latest_rule_result(
        session, request.scheme_code, request.entity_key, override.id
    )
    if restored is None:
        await end_assignment(session, override.id, now)
        return None
    segment, source, run_id = restored
    await start_assignments(
        session,
        [
            NewAssignment(
                scheme_code=request.scheme_code,
                entity_key=request.entity_key,
                customer_code=request.customer_code,
                sku=request.sku,
                segment=segment,
                source=source if source in ("rule", "exception") else "rule",
                reason=f"override #{request.id} expired on {request.expires_on.isoformat()}",
                created_by=actor.name,
                run_id=run_id,
            )
        ],
        now,
    )
    return segment


async def expire_overrides(
    session: AsyncSession,
    today: date,
    actor: ActingParty,
    *,
    tenant_slug: str | None = None,
) -> ExpiryOutcome:
    """Revert approved overrides whose expiry date has come (``expires_on <= today``) and mark
    pending requests past it ``expired``. Idempotent: decided rows are skipped, and rows another
    worker holds are left to it (``SKIP LOCKED``)."""
    outcome = ExpiryOutcome()
    due = list(
        (
            await session.execute(
                select(OverrideRequest)
                .where(
                    OverrideRequest.expires_on <= today,
                    or_(
                        OverrideRequest.status == "approved",
                        OverrideRequest.status == "pending",
                    ),
                )
                .order_by(OverrideRequest.id)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    now = datetime.now(UTC)
    for request in due:
        if request.status == "pending":
            await _expire_pending(session, request, actor, now, tenant_slug)
            outcome.expired.append(request.id)
        else:
            await _expire_approved(session, request, actor, now, tenant_slug)
            outcome.reverted.append(request.id)
    return outcome


async def _expire_pending(
    session: AsyncSession,
    request: OverrideRequest,
    actor: ActingParty,
    now: datetime,
    tenant_slug: str | None,
) -> None:
    request.status = "expired"
    request.decided_at = now
    request.decision_reason = "expired before a decision"
    await session.flush()
    await record_by(
        session,
        actor,
        "overrides.expire",
        "override_request",
        str(request.id),
        before={"status": "pending"},
        after={"status": "expired"},
        reason=request.decision_reason,
    )
    await _tell_people(session, request, tenant_slug, "expired", request.decision_reason)


async def _expire_approved(
    session: AsyncSession,
    request: OverrideRequest,
    actor: ActingParty,
    now: datetime,
    tenant_slug: str | None,
) -> None:
    restored = await _revert(session, request, actor, now)
    request.status = "reverted"
    request.reverted_at = now
    await session.flush()
    reason = f"override expired on {request.expires_on.isoformat()}"
    await record_by(
        session,
        actor,
        "overrides.revert",
        "override_request",
        str(request.id),
        before={"status": "approved", "segment": request.to_segment},
        after={"status": "reverted", "segment": restored},
        reason=reason,
    )
    if restored is not None and restored != request.to_segment:
        try:
            scheme = (await published(session, request.scheme_code)).scheme
        except (SchemeNotFound, SchemeRefused):
            scheme = None
        if scheme is not None:
            await _customer_notice(
                session,
                request,
                scheme,
                kind="override_expired",
                old=request.to_segment,
                new=restored,
                old_entitlements=await segment_entitlements(
                    session, request.scheme_code, request.to_segment, now.date()
                ),
                day=now.date(),
            )
    await _tell_people(session, request, tenant_slug, "reverted", reason)


# ---------------------------------------------------------------------------------------------
# Listing (the approval queue and the API)


@dataclass(frozen=True)
class RequestFilter:
    status: str | None = "pending"
    scheme: str | None = None
    scope: str | None = None
    reason: str | None = None  # text in the request's reason
    requested_by: str | None = None
    entity: str | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_requests(
    session: AsyncSession,
    where: RequestFilter,
    *,
    scopes: frozenset[str] | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> tuple[list[OverrideRequest], int | None]:
    """Requests matching ``where`` (oldest first) in ``scopes`` (None = all); the rows and the
    id to continue after, if there are more."""
    r = OverrideRequest
    conditions = []
    if where.status:
        conditions.append(r.status == where.status)
    if where.scheme:
        conditions.append(r.scheme_code == where.scheme)
    if where.scope:
        conditions.append(r.scope == where.scope)
    if where.reason:
        conditions.append(r.reason.ilike(f"%{_escape_like(where.reason)}%", escape="\\"))
    if where.requested_by:
        conditions.append(func.lower(r.requested_by) == where.requested_by.strip().lower())
    if where.entity:
        conditions.append(r.entity_key.like(_escape_like(where.entity) + "%", escape="\\"))
    if scopes is not None:
        conditions.append(r.scope.in_(sorted(scopes)))
    if after_id is not None:
        conditions.append(r.id > after_id)
    limit = max(1, min(1000, limit))
    rows = list(
        (
            await session.execute(
                select(r).where(and_(True, *conditions)).order_by(r.id).limit(limit + 1)
            )
        ).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


async def entity_scopes(
    session: AsyncSession, customer_codes: Sequence[str], skus: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Business scope of each customer and product named (``*`` when unset)."""
    customers: dict[str, str] = {}
    products: dict[str, str] = {}
    if customer_codes:
        rows = await session.execute(
            select(_customers.c.code, _customers.c.scope).where(
                _customers.c.code.in_(sorted(set(customer_codes)))
            )
        )
        customers = {str(c): str(s or "*") for c, s in rows.all()}
    if skus:
        rows = await session.execute(
            select(_products.c.sku, _products.c.scope).where(_products.c.sku.in_(sorted(set(skus))))
        )
        products = {str(c): str(s or "*") for c, s in rows.all()}
    return customers, products
