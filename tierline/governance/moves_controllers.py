"""Pending moves: the page that lists them with filters and decides ticked ones in bulk, and
its API (``/t/{tenant}/segments/moves``, ``/api/v1/segments/moves``).

Reading needs ``segments:read``; deciding ``overrides:approve`` in the entity's scope, and
``overrides:approve_major`` as well for moves that jump tiers or (acknowledged) break a contract:
the checks of :func:`tierline.governance.moves.decide_moves`, which the approval queue calls too.
A decision here is all or nothing with one mandatory reason; the queue decides moves one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from tierline.governance import moves as decisions
from tierline.governance.checks import APPROVE, APPROVE_MAJOR, rights_of
from tierline.governance.schemas import MoveOut, MovesDecidedOut, MovesDecisionIn, MovesOut
from tierline.platform.access import requires
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here
from tierline.platform.pages import fmt_number, fmt_time
from tierline.platform.pagination import PAGED, PageRequest, encode_cursor
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.service import (
    Move,
    move_reasons,
    pending_moves,
    scheme_infos,
    segment_catalogue,
)

READ = "segments:read"
STATUSES = ("pending", "applied", "rejected", "superseded")


class InputInvalid(DomainError):
    status_code = 422
    title = "Invalid request body"


def _base(principal: Principal) -> str:
    return f"/t/{principal.tenant.slug}/segments"


def _q(request: Request[Any, Any, Any], name: str, limit: int = 200) -> str:
    return (request.query_params.get(name) or "").strip()[:limit]


def _url(path: str, params: dict[str, Any]) -> str:
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _limit(raw: str, default: int = 100) -> int:
    """A page size from a link (``pending_moves`` bounds it); not a number: ``default``."""
    return int(raw) if raw.isdigit() else default


def _api_limit(request: Request[Any, Any, Any], default: int = 100) -> int:
    raw = _q(request, "limit", 10)
    if raw and not raw.isdigit():
        raise InputInvalid("limit: a whole number from 1 to 1000")
    return int(raw) if raw else default


def _context(request: Request[Any, Any, Any], principal: Principal, **extra: Any) -> dict[str, Any]:
    tenant = principal.tenant
    return {
        "tenant": tenant,
        "principal": principal,
        "base": _base(principal),
        "can_approve": allowed_here(request, APPROVE),
        "fmt_time": fmt_time,
        "fmt_number": fmt_number,
        "customer_url": lambda code: f"/t/{tenant.slug}/customers/{quote(code, safe='')}",
        "product_url": lambda sku: f"/t/{tenant.slug}/products/{quote(sku, safe='')}",
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# The page


@get(
    "/segments/moves",
    guards=[requires(READ)],
    operation_id="pendingMovesPage",
)
async def moves_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Moves waiting for a decision, with filters; bulk apply or reject with a reason."""
    return await _moves_template(request, principal)


async def _moves_template(
    request: Request[Any, Any, Any],
    principal: Principal,
    alert: str | None = None,
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> Template:
    filters = {
        "scheme": _q(request, "scheme", 40),
        "reason": _q(request, "reason", 40),
        "entity": _q(request, "entity", 201),
        "status": _q(request, "status", 12) or "pending",
    }
    raw_after = _q(request, "after", 20)
    async with tenant_session(principal.tenant) as s:
        page = await pending_moves(
            s,
            filters["scheme"] or None,
            filters["status"],
            reason=filters["reason"] or None,
            entity=filters["entity"] or None,
            after_id=int(raw_after) if raw_after.isdigit() else None,
            limit=_limit(_q(request, "limit")),
        )
        schemes = await scheme_infos(s)
        reasons = await move_reasons(s)
        catalogue = await segment_catalogue(s)
        checks = {
            c.move.id: c
            for c in await decisions.check_moves(
                s,
                page.rows if filters["status"] == "pending" else [],
                rights_of(request, principal),
                datetime.now(UTC).date(),
            )
        }
    path = f"{_base(principal)}/moves"
    context = _context(
        request,
        principal,
        moves=page.rows,
        filters=filters,
        schemes=schemes,
        reasons=reasons,
        catalogue=catalogue,
        colours={(code, seg.code): seg.colour for code, segs in catalogue.items() for seg in segs},
        can_approve_major=allowed_here(request, APPROVE_MAJOR),
        checks=checks,
        next_url=_url(path, {**filters, "after": page.next_after_id})
        if page.next_after_id
        else None,
        decided=_q(request, "decided", 80),
        alert=alert,
        form=form or {},
        statuses=STATUSES,
    )
    return Template("governance/moves.html", context=context, status_code=status)


def _ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.strip().isdigit():
            raise decisions.MovesRefused(f"moves: '{value[:20]}' is not a move id")
        ids.append(int(value))
    return ids


@post(
    "/segments/moves",
    guards=[requires(APPROVE)],
    operation_id="decideMovesPage",
)
async def decide_moves_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Apply or reject the ticked moves, with one mandatory reason (all or nothing)."""
    form = await request.form()
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", ""))[:2000]
    try:
        ids = _ids([str(v) for v in form.getall("move")] if "move" in form else [])
        async with tenant_session(principal.tenant) as s:
            count = await decisions.decide_moves(
                s,
                ids,
                decision,  # type: ignore[arg-type]  # checked by decide_moves
                actor_of(request, principal),
                reason,
                rights=rights_of(request, principal),
                acknowledge_conflicts=str(form.get("acknowledge_conflicts", "")) == "yes",
                tenant_slug=principal.tenant.slug,
            )
    except (decisions.MovesRefused, decisions.MovesForbidden, decisions.MovesNotFound) as exc:
        sent = {
            "reason": reason,
            "move": [str(v) for v in form.getall("move")] if "move" in form else [],
        }
        return await _moves_template(request, principal, str(exc), exc.status_code, sent)  # type: ignore[return-value]
    done = "applied" if decision == "apply" else "rejected"
    target = f"{_base(principal)}/moves?decided={quote(f'{count} {done}')}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The API


def _move_out(m: Move) -> dict[str, Any]:
    return {
        "id": m.id,
        "run_id": str(m.run_id),
        "scheme": m.scheme_code,
        "entity_key": m.entity_key,
        "customer_code": m.customer_code,
        "sku": m.sku,
        "from_segment": m.from_segment,
        "to_segment": m.to_segment,
        "reasons": list(m.reasons or []),
        "source": m.source,
        "status": m.status,
        "created_at": m.created_at,
        "decided_by": m.decided_by,
        "decided_at": m.decided_at,
        "decision_reason": m.decision_reason,
    }


@get(
    "/segments/moves",
    guards=[requires(READ)],
    operation_id="listPendingMoves",
    dependencies=PAGED,
)
async def api_moves(
    principal: NamedDependency[Principal],
    page: PageRequest,
    status: Annotated[
        str, QueryParameter(max_length=12, description="pending (default), applied, rejected…")
    ] = "pending",
    scheme: Annotated[str | None, QueryParameter(max_length=40)] = None,
    reason: Annotated[
        str | None, QueryParameter(max_length=40, description="A move reason.")
    ] = None,
    entity: Annotated[
        str | None, QueryParameter(max_length=201, description="An entity key.")
    ] = None,
) -> MovesOut:
    """Segment moves runs proposed, awaiting approval (or decided: ``status``), by id."""
    position = page.position()
    if position is not None and not isinstance(position[0], int):
        raise InputInvalid("cursor: not a cursor this API returned")
    async with tenant_session(principal.tenant) as s:
        found = await pending_moves(
            s,
            (scheme or "").strip() or None,
            status.strip() or "pending",
            reason=(reason or "").strip() or None,
            entity=(entity or "").strip() or None,
            after_id=int(position[0]) if position else None,
            limit=page.limit,
        )
    following = found.next_after_id
    return MovesOut(
        [msgspec.convert(_move_out(m), MoveOut) for m in found.rows],
        encode_cursor((following,)) if following else None,
    )


@post(
    "/segments/moves:decide",
    guards=[requires(APPROVE)],
    operation_id="decidePendingMoves",
    status_code=200,
)
async def api_decide_moves(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: MovesDecisionIn,
) -> MovesDecidedOut:
    """Decide moves, all or nothing: ``apply`` or ``reject`` with a reason (the governance
    board acknowledges contract conflicts with ``acknowledge_conflicts``); a move decided
    meanwhile is 409 and nothing changes."""
    if data.ids is None:
        raise InputInvalid("ids: a list of move ids")
    async with tenant_session(principal.tenant) as s:
        count = await decisions.decide_moves(
            s,
            data.ids,
            data.decision,  # type: ignore[arg-type]  # checked by decide_moves
            actor_of(request, principal),
            (data.reason or "")[:2000],
            rights=rights_of(request, principal),
            acknowledge_conflicts=data.acknowledge_conflicts,
            tenant_slug=principal.tenant.slug,
        )
    return MovesDecidedOut(count, "applied" if data.decision == "apply" else "rejected")


ROUTES = [StaffPages(moves_page, decide_moves_form), Api(api_moves, api_decide_moves)]
