"""Governance pages and API: the approval queue, override requests, decision rights.

- ``GET /t/{tenant}/approvals`` (``segments:read``): one queue of pending override requests and
  pending run moves, filtered by kind, scheme, scope, reason and requester, with tier jump,
  contract conflicts, expiry and evidence. Items the signed-in user may decide carry a
  checkbox; the others are shown read-only with the reason why.
- ``POST /t/{tenant}/approvals`` (``overrides:approve``): approve or reject the ticked items
  with one mandatory reason. **Each item is decided in its own savepoint**: refusals are
  reported per item and the others are applied (one refused item does not hold back forty
  good ones); an empty reason or no item refuses the whole submission.
- ``GET/POST /t/{tenant}/overrides/new`` (``overrides:request``): the request form.
- ``GET /t/{tenant}/governance/decision-rights`` (``segments:read``): who may request, approve
  one-tier moves or approve major moves, in which scopes, generated from the role policy
  (``tierline.policies.decision_rights``) and the tenant's actual grants.
- JSON: ``POST /api/v1/overrides``, ``GET /api/v1/overrides``, ``POST
  /api/v1/overrides/{id}:decide``, ``GET /api/v1/approvals``.

Users see items in the scopes where they hold ``segments:read``; decisions outside the scopes
where they hold ``overrides:approve`` are refused with 403 and a message saying why.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import polars as pl
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.access import requires
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import RoleGrant, User
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, scopes_with
from tierline.platform.request_body import json_object
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.policies import DEFAULT_POLICY, ROLES, decision_rights
from tierline.governance import overrides, queries
from tierline.governance.models import REQUEST_STATUSES, OverrideRequest
from tierline.segmentation.models import PendingMove
from tierline.governance.notices import notices_for_applied_moves
from tierline.governance.overrides import (
    APPROVE,
    APPROVE_MAJOR,
    ApproverRights,
    OverrideInvalid,
    RequestFilter,
)
from tierline.segmentation.schemes.document import Scheme
from tierline.segmentation.schemes.store import PublishedScheme, SchemeNotFound, SchemeRefused, published

READ = "segments:read"
REQUEST = "overrides:request"
KINDS = ("override", "move")
MAX_ITEMS = 500
PAGE_LIMIT = 200
_ITEM = re.compile(r"^(override|move):(\d{1,18})$")
_DECIDE_REF = re.compile(r"^(\d{1,18}):decide$")
CSS_PATH = "/assets/segmentation.css"


class InputRefused(DomainError):
    status_code = 422
    title = "Invalid input"


# ---------------------------------------------------------------------------------------------
# Who may do what


def rights_of(request: Request[Any, Any, Any], principal: Principal) -> ApproverRights:
    """Where the caller may approve (machine clients: tenant-wide, if granted the scope)."""
    if principal.is_client:
        held = principal.client_scopes
        return ApproverRights(
            None if APPROVE in held else frozenset(),
            None if APPROVE_MAJOR in held else frozenset(),
        )
    return ApproverRights(
        scopes_with(request, principal, APPROVE), scopes_with(request, principal, APPROVE_MAJOR)
    )


def _scopes(
    request: Request[Any, Any, Any], principal: Principal, permission: str
) -> frozenset[str] | None:
    if principal.is_client:
        return None if permission in principal.client_scopes else frozenset()
    return scopes_with(request, principal, permission)


# ---------------------------------------------------------------------------------------------
# The unified queue


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
    page = await queries.pending_moves(
        session, where.scheme, "pending", reason=where.reason, limit=limit
    )
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


def _move_item(move: PendingMove, scope: str, jump: int) -> QueueItem:
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
    probe = OverrideRequest(
        customer_code=item.customer_code, scheme_code=item.scheme, to_segment=item.to_segment
    )
    return await overrides.contract_conflicts_of(session, probe, today)


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
    request: Request[Any, Any, Any],
    principal: Principal,
    acknowledge_conflicts: bool = False,
) -> BatchOutcome:
    """Each item in its own savepoint: refused items are reported, the others applied."""
    if decision not in ("approve", "reject"):
        raise InputRefused("decision: choose approve or reject")
    if not reason.strip():
        raise InputRefused("reason: say why (it goes into the audit log)")
    outcome = BatchOutcome()
    rights = rights_of(request, principal)
    actor = actor_of(request, principal)
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
                        tenant_slug=principal.tenant.slug,
                    )
                else:
                    await _decide_move(
                        session, item_id, decision, reason, rights, actor, schemes, principal
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
    actor: Any,
    schemes: _Schemes,
    principal: Principal,
) -> None:
    move = await session.get(PendingMove, move_id)
    if move is None:
        raise queries.MovesNotFound(f"there is no move #{move_id}")
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
    await queries.decide_moves(
        session,
        [move_id],
        "apply" if decision == "approve" else "reject",
        actor,
        reason,
        allow_major=rights.may_approve_major(scope),
        tenant_slug=principal.tenant.slug,
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


# ---------------------------------------------------------------------------------------------
# Pages


def _base(principal: Principal) -> str:
    return f"/t/{principal.tenant.slug}"


def _context(principal: Principal, **extra: Any) -> dict[str, Any]:
    return {"tenant": principal.tenant, "principal": principal, "css": CSS_PATH, **extra}


async def _queue_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    where: QueueFilter,
    *,
    done: str | None = None,
    alert: str | None = None,
    outcome: BatchOutcome | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    rights = rights_of(request, principal)
    today = datetime.now(UTC).date()
    async with tenant_session(principal.tenant) as s:
        items = await approval_queue(
            s,
            where,
            visible=_scopes(request, principal, READ),
            rights=rights,
            actor=principal.display,
            today=today,
        )
        schemes = await _scheme_codes(s)
    context = _context(
        principal,
        items=items,
        where=where,
        kinds=KINDS,
        schemes=schemes,
        scopes=sorted({i.scope for i in items} | ({where.scope} if where.scope else set())),
        can_decide=any(i.decidable for i in items),
        can_request=bool(principal.permissions and REQUEST in principal.permissions),
        may_major=rights.major is None or bool(rights.major),
        done=done,
        alert=alert,
        outcome=outcome,
        form=form or {},
        today=today,
    )
    return Template("segmentation/approvals.html", context=context, status_code=status)


async def _scheme_codes(session: AsyncSession) -> list[str]:
    from tierline.segmentation.models import SegmentationScheme

    rows = await session.execute(
        select(SegmentationScheme.code)
        .where(SegmentationScheme.published_version.is_not(None))
        .order_by(SegmentationScheme.code)
    )
    return [str(code) for code in rows.scalars()]


@get(
    "/approvals",
    guards=[requires(READ)],
    operation_id="approvalQueue",
)
async def approvals_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Pending override requests and run moves in one queue."""
    params = request.query_params
    return await _queue_page(
        request, principal, QueueFilter.parse(params), done=(params.get("done") or "")[:200]
    )


@post(
    "/approvals",
    guards=[requires(APPROVE)],
    operation_id="decideApprovals",
)
async def decide_approvals(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Approve or reject the ticked items with one mandatory reason (per-item savepoints)."""
    form = await request.form()
    where = replace(QueueFilter.parse(form), reason=None)  # "reason" is the decision here
    values = [str(v) for v in form.getall("item")] if "item" in form else []
    reason = str(form.get("reason", ""))[: overrides.MAX_REASON]
    sent = {"reason": reason, "item": values}
    try:
        refs = parse_refs(values)
        async with tenant_session(principal.tenant) as s:
            outcome = await decide_batch(
                s,
                refs,
                str(form.get("decision", "")),
                reason,
                request=request,
                principal=principal,
                acknowledge_conflicts=str(form.get("acknowledge_conflicts", "")) == "yes",
            )
    except InputRefused as exc:
        return await _queue_page(
            request, principal, where, alert=str(exc), form=sent, status=exc.status_code
        )
    verb = "approved" if form.get("decision") == "approve" else "rejected"
    if not outcome.refused:
        done = f"{len(outcome.done)} {verb}"
        target = f"{_base(principal)}/approvals?{urlencode({**where.params(), 'done': done})}"
        return Redirect(target, status_code=303)
    return await _queue_page(
        request,
        principal,
        where,
        done=f"{len(outcome.done)} {verb}" if outcome.done else None,
        alert=f"{len(outcome.refused)} item(s) refused; nothing was changed for them",
        outcome=outcome,
        form=sent,
        status=409 if not outcome.done else 200,
    )


async def _request_form(
    request: Request[Any, Any, Any],
    principal: Principal,
    values: dict[str, str],
    *,
    alert: str | None = None,
    status: int = 200,
) -> Template:
    scheme_code, entity_key = values.get("scheme", ""), values.get("entity", "")
    segments: list[Any] = []
    current: str | None = None
    entity_error: str | None = None
    async with tenant_session(principal.tenant) as s:
        codes = await _scheme_codes(s)
        if scheme_code in codes:
            found = await published(s, scheme_code)
            segments = sorted(found.scheme.segments, key=lambda seg: seg.rank)
            if entity_key:
                try:
                    entity = await overrides.find_entity(s, found, entity_key)
                    scopes = _scopes(request, principal, REQUEST)
                    if scopes is not None and entity.scope not in scopes:
                        raise overrides.OverrideNotFound(f"there is no entity '{entity_key}'")
                    current = entity.current.segment if entity.current else None
                except overrides.OverrideNotFound as exc:
                    entity_error = str(exc)
    context = _context(
        principal,
        values=values,
        schemes=codes,
        segments=segments,
        current=current,
        entity_error=entity_error,
        alert=alert,
        default_expiry=(datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
        max_expiry=(
            datetime.now(UTC).date() + timedelta(days=overrides.MAX_EXPIRY_DAYS)
        ).isoformat(),
    )
    return Template("segmentation/override_new.html", context=context, status_code=status)


@get(
    "/overrides/new",
    guards=[requires(REQUEST)],
    operation_id="overrideRequestForm",
)
async def override_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    params = request.query_params
    values = {
        "scheme": (params.get("scheme") or "").strip()[:40],
        "entity": (params.get("entity") or "").strip()[:201],
    }
    return await _request_form(request, principal, values)


def parse_date(raw: str, name: str = "expires_on") -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise OverrideInvalid(f"{name}: use a date like 2027-03-31") from None


@post(
    "/overrides/new",
    guards=[requires(REQUEST)],
    operation_id="overrideRequestSubmit",
)
async def submit_override(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    form = await request.form()
    values = {
        name: str(form.get(name, ""))[:4000]
        for name in ("scheme", "entity", "to_segment", "reason", "evidence", "expires_on")
    }
    try:
        async with tenant_session(principal.tenant) as s:
            created = await overrides.request_override(
                s,
                actor_of(request, principal),
                values["scheme"].strip(),
                values["entity"],
                values["to_segment"].strip(),
                values["reason"],
                values["evidence"],
                parse_date(values["expires_on"]),
                scopes=_scopes(request, principal, REQUEST),
            )
            created_id = created.id
    except (OverrideInvalid, overrides.OverrideRefused, overrides.OverrideNotFound) as exc:
        return await _request_form(
            request, principal, values, alert=str(exc), status=exc.status_code
        )
    done = f"override request #{created_id} filed"
    target = f"{_base(principal)}/approvals?{urlencode({'kind': 'override', 'done': done})}"
    return Redirect(target, status_code=303)


# ---------------------------------------------------------------------------------------------
# Decision rights

GOVERNANCE_PERMISSIONS = (REQUEST, APPROVE, APPROVE_MAJOR)
RIGHT_LABELS = {
    REQUEST: "request overrides",
    APPROVE: "approve one-tier moves",
    APPROVE_MAJOR: "approve major moves (more than one tier) and contract conflicts",
}


async def grants_with_rights(session: AsyncSession) -> list[dict[str, Any]]:
    """Active staff holding a governance permission: e-mail, role, scope, what it allows."""
    rows = await session.execute(
        select(User.email, RoleGrant.role, RoleGrant.scope)
        .join(User, User.id == RoleGrant.user_id)
        .where(User.status == "active", User.kind == "staff")
        .order_by(User.email, RoleGrant.role, RoleGrant.scope)
    )
    people = []
    for email, role, scope in rows.all():
        held = DEFAULT_POLICY.get(str(role), frozenset())
        rights = [RIGHT_LABELS[p] for p in GOVERNANCE_PERMISSIONS if p in held]
        if rights:
            people.append(
                {
                    "email": str(email),
                    "role": str(role),
                    "role_name": ROLES[str(role)].display_name if str(role) in ROLES else role,
                    "scope": str(scope),
                    "rights": rights,
                }
            )
    return people


def rights_matrix() -> list[dict[str, Any]]:
    """Per role: which governance permissions it grants (from the role policy)."""
    rows = [r for r in decision_rights() if r.permission in GOVERNANCE_PERMISSIONS]
    roles: dict[str, set[str]] = {}
    for row in rows:
        roles.setdefault(row.role, set()).add(row.permission)
    return [
        {
            "role": role,
            "role_name": ROLES[role].display_name if role in ROLES else role,
            "held": {p: p in roles.get(role, set()) for p in GOVERNANCE_PERMISSIONS},
        }
        for role in DEFAULT_POLICY
        if role in roles
    ]


@get(
    "/governance/decision-rights",
    guards=[requires(READ)],
    operation_id="decisionRightsPage",
)
async def decision_rights_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    async with tenant_session(principal.tenant) as s:
        people = await grants_with_rights(s)
    descriptions = {r.permission: r.description for r in decision_rights()}
    context = _context(
        principal,
        matrix=rights_matrix(),
        permissions=GOVERNANCE_PERMISSIONS,
        descriptions=descriptions,
        people=people,
    )
    return Template("segmentation/decision_rights.html", context=context)


# ---------------------------------------------------------------------------------------------
# JSON API

TAGS = ["governance"]


def _text(data: dict[str, Any], name: str, limit: int = 4000) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputRefused(f"{name}: a string is expected")
    return value[:limit]


@post(
    "/overrides",
    guards=[requires(REQUEST)],
    operation_id="requestOverride",
    status_code=HTTP_201_CREATED,
    tags=TAGS,
)
async def api_request_override(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """``{"scheme", "entity_key", "to_segment", "reason", "evidence": [...], "expires_on"}``."""
    data = await json_object(request)
    evidence = data.get("evidence") or []
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise InputRefused("evidence: a list of texts or URLs")
    async with tenant_session(principal.tenant) as s:
        created = await overrides.request_override(
            s,
            actor_of(request, principal),
            _text(data, "scheme", 40),
            _text(data, "entity_key", 201),
            _text(data, "to_segment", 20),
            _text(data, "reason"),
            evidence,
            parse_date(_text(data, "expires_on", 20)),
            scopes=_scopes(request, principal, REQUEST),
        )
        return overrides.request_public_dict(created)


@get(
    "/overrides",
    guards=[requires(READ)],
    operation_id="listOverrides",
    tags=TAGS,
)
async def api_list_overrides(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Requests (``status`` default pending, ``all`` for every status; ``scheme``, ``scope``,
    ``requested_by``, ``entity``, ``cursor``, ``limit``)."""
    params = request.query_params
    status = (params.get("status") or "pending").strip()
    if status not in (*REQUEST_STATUSES, "all"):
        raise InputRefused(f"status: one of {', '.join(REQUEST_STATUSES)} or all")
    cursor = (params.get("cursor") or "").strip()
    if cursor and not cursor.isdigit():
        raise InputRefused("cursor: not a cursor this API returned")
    limit = params.get("limit") or ""
    where = RequestFilter(
        None if status == "all" else status,
        (params.get("scheme") or "").strip()[:40] or None,
        (params.get("scope") or "").strip()[:40] or None,
        None,
        (params.get("requested_by") or "").strip()[:320] or None,
        (params.get("entity") or "").strip()[:201] or None,
    )
    async with tenant_session(principal.tenant) as s:
        rows, next_id = await overrides.list_requests(
            s,
            where,
            scopes=_scopes(request, principal, READ),
            after_id=int(cursor) if cursor else None,
            limit=int(limit) if limit.isdigit() else 100,
        )
        items = [overrides.request_public_dict(r) for r in rows]
    return {"items": items, "next_cursor": str(next_id) if next_id else None}


@post(
    "/overrides/{ref:str}",
    guards=[requires(APPROVE)],
    operation_id="decideOverride",
    status_code=200,
    tags=TAGS,
)
async def api_decide_override(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], ref: FromPath[str]
) -> dict[str, Any]:
    """``POST /api/v1/overrides/{id}:decide`` with ``{"decision": "approve"|"reject",
    "reason": "...", "acknowledge_conflicts": false}``."""
    found = _DECIDE_REF.match(ref)
    if not found:
        raise NotFoundException()
    data = await json_object(request)
    decision = _text(data, "decision", 10)
    if decision not in ("approve", "reject"):
        raise InputRefused("decision: choose approve or reject")
    acknowledge = data.get("acknowledge_conflicts", False)
    if not isinstance(acknowledge, bool):
        raise InputRefused("acknowledge_conflicts: true or false")
    async with tenant_session(principal.tenant) as s:
        decided = await overrides.decide_override(
            s,
            int(found.group(1)),
            "approve" if decision == "approve" else "reject",
            actor_of(request, principal),
            _text(data, "reason"),
            rights=rights_of(request, principal),
            acknowledge_conflicts=acknowledge,
            tenant_slug=principal.tenant.slug,
        )
        return overrides.request_public_dict(decided)


@get(
    "/approvals",
    guards=[requires(READ)],
    operation_id="listApprovals",
    tags=TAGS,
)
async def api_approvals(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """The approval queue (``kind``, ``scheme``, ``scope``, ``reason``, ``requested_by``)."""
    async with tenant_session(principal.tenant) as s:
        items = await approval_queue(
            s,
            QueueFilter.parse(request.query_params),
            visible=_scopes(request, principal, READ),
            rights=rights_of(request, principal),
            actor=principal.display,
            today=datetime.now(UTC).date(),
        )
    return {"items": [item.public() for item in items]}


ROUTES = [
    StaffPages(
        approvals_page, decide_approvals, override_form, submit_override, decision_rights_page
    ),
    Api(api_request_override, api_list_overrides, api_decide_override, api_approvals),
]
