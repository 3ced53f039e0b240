"""Governance pages and API: the approval queue, override requests, decision rights.

- ``GET /t/{tenant}/approvals`` (``segments:read``): one queue of pending override requests and
  pending run moves, filtered by kind, scheme, scope, reason and requester, with tier jump,
  contract conflicts, expiry and evidence. Items the signed-in user may decide carry a
  checkbox; the others are shown read-only with the reason why. ``?select=all`` ticks every
  item the user may decide (select-all without JavaScript).
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
where they hold ``overrides:approve`` are refused with 403 and a message saying why. What the
queue shows and how a batch is decided live in ``queue``; the rights table in
``decision_rights``; the pending-moves page and its API in ``moves_controllers``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from tierline.governance import overrides
from tierline.governance.checks import APPROVE, REQUEST, rights_of
from tierline.governance.decision_rights import (
    GOVERNANCE_PERMISSIONS,
    grants_with_rights,
    rights_matrix,
)
from tierline.governance.models import REQUEST_STATUSES
from tierline.governance.overrides import OverrideInvalid, RequestFilter
from tierline.governance.panels import PendingChange, approval_panels
from tierline.governance.queue import (
    BatchOutcome,
    InputRefused,
    QueueFilter,
    all_kinds,
    approval_queue,
    decide_batch,
    parse_refs,
    scheme_codes,
)
from tierline.governance.schemas import (
    ApprovalsOut,
    OverrideDecisionIn,
    OverrideOut,
    OverrideRequestIn,
    OverridesOut,
    QueueItemOut,
)
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, scopes_with
from tierline.platform.pagination import PAGED, PageRequest, encode_cursor
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.policies import decision_rights
from tierline.segmentation.service import published, segment_catalogue

READ = "segments:read"
_DECIDE_REF = re.compile(r"^(\d{1,18}):decide$")
CSS_PATH = "/assets/segmentation.css"


# ---------------------------------------------------------------------------------------------
# Who may do what


def _scopes(
    request: Request[Any, Any, Any], principal: Principal, permission: str
) -> frozenset[str] | None:
    if principal.is_client:
        return None if permission in principal.client_scopes else frozenset()
    return scopes_with(request, principal, permission)


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
    select_all: bool = False,
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
        schemes = await scheme_codes(s)
        catalogue = await segment_catalogue(s, sorted({i.scheme for i in items}))
        changes = [
            PendingChange(i.ref, i.customer_code, i.scheme, i.from_segment, i.to_segment)
            for i in items
            if i.customer_code is not None
        ]
        panels = await approval_panels(s, changes, request, principal)
    slug = principal.tenant.slug
    picked = set(form.get("item", [])) if form else set()
    if select_all:
        picked = {i.ref for i in items if i.decidable}
    context = _context(
        principal,
        picked=picked,
        colours={(code, seg.code): seg.colour for code, segs in catalogue.items() for seg in segs},
        names={(code, seg.code): seg.name for code, segs in catalogue.items() for seg in segs},
        customer_url=lambda code: f"/t/{slug}/customers/{quote(code, safe='')}",
        product_url=lambda sku: f"/t/{slug}/products/{quote(sku, safe='')}",
        select_url=f"{_base(principal)}/approvals?{urlencode({**where.params(), 'select': 'all'})}",
        clear_url=f"{_base(principal)}/approvals?{urlencode(where.params())}",
        items=items,
        panels=panels,
        where=where,
        kinds=all_kinds(),
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
    return Template("governance/approvals.html", context=context, status_code=status)


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
        request,
        principal,
        QueueFilter.parse(params),
        done=(params.get("done") or "")[:200],
        select_all=params.get("select") == "all",
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
                rights=rights_of(request, principal),
                actor=actor_of(request, principal),
                tenant_slug=principal.tenant.slug,
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
        codes = await scheme_codes(s)
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
    return Template("governance/override_new.html", context=context, status_code=status)


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
    return Template("governance/decision_rights.html", context=context)


# ---------------------------------------------------------------------------------------------
# JSON API


def _text(value: str | None, limit: int = 4000) -> str:
    return (value or "")[:limit]


def _override_out(row: Any) -> OverrideOut:
    return msgspec.convert(overrides.request_public_dict(row), OverrideOut)


def _query(value: str | None, limit: int) -> str | None:
    return (value or "").strip()[:limit] or None


Text = Annotated[str | None, QueryParameter(max_length=320)]
# ``scope`` is Litestar's name for the ASGI scope: the parameter is named in the query only.
Scope = Annotated[str | None, QueryParameter(query="scope", max_length=40, description="A scope.")]


@post(
    "/overrides",
    guards=[requires(REQUEST)],
    operation_id="requestOverride",
    status_code=HTTP_201_CREATED,
)
async def api_request_override(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: OverrideRequestIn,
) -> OverrideOut:
    """Request an exception: move ``entity_key`` to ``to_segment`` in ``scheme`` until
    ``expires_on``, with a reason and evidence; it waits for the approvers (decision rights
    say who). A move that breaks a rule (a tier jump, a contract) is refused or flagged."""
    async with tenant_session(principal.tenant) as s:
        created = await overrides.request_override(
            s,
            actor_of(request, principal),
            _text(data.scheme, 40),
            _text(data.entity_key, 201),
            _text(data.to_segment, 20),
            _text(data.reason),
            list(data.evidence or []),
            parse_date(_text(data.expires_on, 20)),
            scopes=_scopes(request, principal, REQUEST),
        )
        return _override_out(created)


@get(
    "/overrides",
    guards=[requires(READ)],
    operation_id="listOverrides",
    dependencies=PAGED,
)
async def api_list_overrides(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    page: PageRequest,
    status: Annotated[
        str,
        QueryParameter(
            max_length=20,
            description=f"One of {', '.join(REQUEST_STATUSES)}, or all.",
        ),
    ] = "pending",
    scheme: Text = None,
    scope_: Scope = None,
    requested_by: Text = None,
    entity: Text = None,
) -> OverridesOut:
    """Override requests in the caller's scopes, oldest first, filtered by ``status``,
    ``scheme``, ``scope``, who requested them and ``entity`` (key)."""
    chosen = status.strip()
    if chosen not in (*REQUEST_STATUSES, "all"):
        raise InputRefused(f"status: one of {', '.join(REQUEST_STATUSES)} or all")
    position = page.position()
    if position is not None and not isinstance(position[0], int):
        raise InputRefused("cursor: not a cursor this API returned")
    where = RequestFilter(
        None if chosen == "all" else chosen,
        _query(scheme, 40),
        _query(scope_, 40),
        None,
        _query(requested_by, 320),
        _query(entity, 201),
    )
    async with tenant_session(principal.tenant) as s:
        rows, next_id = await overrides.list_requests(
            s,
            where,
            scopes=_scopes(request, principal, READ),
            after_id=int(position[0]) if position else None,
            limit=page.limit,
        )
        items = [_override_out(r) for r in rows]
    return OverridesOut(items, encode_cursor((next_id,)) if next_id else None)


@post(
    "/overrides/{ref:str}",
    guards=[requires(APPROVE)],
    operation_id="decideOverride",
    status_code=200,
)
async def api_decide_override(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    ref: FromPath[str],
    data: OverrideDecisionIn,
) -> OverrideOut:
    """``POST /api/v1/overrides/{id}:decide``: ``approve`` or ``reject`` with a reason; the
    governance board acknowledges contract conflicts with ``acknowledge_conflicts``. A
    request decided meanwhile is 409."""
    found = _DECIDE_REF.match(ref)
    if not found:
        raise NotFoundException()
    decision = _text(data.decision, 10)
    if decision not in ("approve", "reject"):
        raise InputRefused("decision: choose approve or reject")
    async with tenant_session(principal.tenant) as s:
        decided = await overrides.decide_override(
            s,
            int(found.group(1)),
            "approve" if decision == "approve" else "reject",
            actor_of(request, principal),
            _text(data.reason),
            rights=rights_of(request, principal),
            acknowledge_conflicts=data.acknowledge_conflicts,
            tenant_slug=principal.tenant.slug,
        )
        return _override_out(decided)


@get(
    "/approvals",
    guards=[requires(READ)],
    operation_id="listApprovals",
    dependencies=PAGED,
)
async def api_approvals(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    page: PageRequest,
    kind: Annotated[str | None, QueryParameter(description="override or move.")] = None,
    scheme: Text = None,
    scope_: Scope = None,
    reason: Text = None,
    requested_by: Text = None,
) -> ApprovalsOut:
    """The approval queue: pending moves, then override requests, each by id, that the
    caller may see, each saying whether the caller may decide it (decision rights) and, if
    not, why."""
    del kind, scheme, scope_, reason, requested_by  # read by QueueFilter.parse, as the page's
    async with tenant_session(principal.tenant) as s:
        items = await approval_queue(
            s,
            QueueFilter.parse(request.query_params),
            visible=_scopes(request, principal, READ),
            rights=rights_of(request, principal),
            actor=principal.display,
            today=datetime.now(UTC).date(),
        )
    queue = sorted(
        (msgspec.convert(item.public(), QueueItemOut) for item in items),
        key=lambda i: (i.kind, i.id),
    )
    found = page.slice(queue, lambda i: (i.kind, i.id))
    return ApprovalsOut(found.items, found.next_cursor)


ROUTES = [
    StaffPages(
        approvals_page, decide_approvals, override_form, submit_override, decision_rights_page
    ),
    Api(api_request_override, api_list_overrides, api_decide_override, api_approvals),
]
