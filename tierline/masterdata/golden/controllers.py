"""Data steward pages: the queue of ambiguous golden-record matches, and the two decisions.

- ``GET /t/{tenant}/steward``: open reviews, oldest first, the source record and the candidate
  golden record side by side with differing fields marked; filter by entity and source system.
- ``POST /t/{tenant}/steward/{id}/merge``: link the record to the candidate, apply survivorship.
- ``POST /t/{tenant}/steward/{id}/keep-apart``: a golden record of its own for the record.

A decision runs in one transaction with its audit entry. A review decided already (by another
steward, or settled by a later import) is refused with 409 and the queue, and nothing changes.
A steward limited to some scopes sees and decides only reviews whose candidate lies in them;
others do not exist for them (404), like another tenant's pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT

from tierline.masterdata.golden.queue import queue_page
from tierline.masterdata.golden.service import (
    Decision,
    ReviewNotFound,
    ReviewRefused,
    decide_and_record,
)
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.users import Actor
from tierline.platform.identity.web import scopes_with
from tierline.platform.observability import current_request_id
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import tenant_session

PERMISSION = "steward:resolve"
PAGE_SIZE = 20
ENTITIES = ("customer", "product")
REASON_MAX = 500


def steward_scopes(request: Request[Any, Any, Any], principal: Principal) -> frozenset[str] | None:
    """Scopes whose reviews the steward may decide; None for every scope."""
    return scopes_with(request, principal, PERMISSION)


@dataclass(frozen=True)
class QueueQuery:
    entity: str | None = None
    source: str | None = None
    page: int = 1

    @classmethod
    def parse(cls, raw: Any) -> QueueQuery:
        """From query parameters or the decision form; values that do not fit are dropped
        (a filter link must never fail)."""
        entity = str(raw.get("entity") or "").strip().lower()
        source = str(raw.get("source") or "").strip().lower()[:40]
        try:
            page = max(1, min(int(str(raw.get("page") or "1")), 1_000_000))
        except ValueError:
            page = 1
        return cls(entity if entity in ENTITIES else None, source or None, page)

    def query_string(self, page: int | None = None, **extra: str) -> str:
        params = {"entity": self.entity or "", "source": self.source or ""}
        params = {k: v for k, v in params.items() if v}
        chosen = self.page if page is None else page
        if chosen > 1:
            params["page"] = str(chosen)
        params.update(extra)
        return urlencode(params)


async def _queue(
    principal: Principal,
    request: Request[Any, Any, Any],
    query: QueueQuery,
    *,
    done: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        page = await queue_page(
            await s.connection(),
            entity=query.entity,
            source_system=query.source,
            scopes=steward_scopes(request, principal),
            page=query.page,
            size=PAGE_SIZE,
        )
    base = f"/t/{principal.tenant.slug}/steward"
    return Template(
        "masterdata/steward.html",
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "queue": page,
            "query": query,
            "entities": ENTITIES,
            "done": done,
            "error": error,
            "prev_url": f"{base}?{query.query_string(page.page - 1)}" if page.page > 1 else None,
            "next_url": (
                f"{base}?{query.query_string(page.page + 1)}" if page.page < page.pages else None
            ),
        },
        status_code=status,
    )


@get(
    "/steward",
    guards=[requires(PERMISSION)],
    operation_id="stewardQueue",
)
async def steward_queue(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any]
) -> Template:
    params = request.query_params
    return await _queue(
        principal,
        request,
        QueueQuery.parse(params),
        done=params.get("done"),
        error=params.get("error"),
    )


async def _decide(
    principal: Principal,
    request: Request[Any, Any, Any],
    review_id: int,
    decision: Decision,
) -> Response[Any]:
    form = await request.form()
    reason = str(form.get("reason", "")).strip()[:REASON_MAX] or None
    query = QueueQuery.parse(form)
    try:
        # Not ``actor_of``: a request without a peer address is audited with none, as ever.
        actor = Actor(
            principal.display,
            principal.actor_kind,
            current_request_id(),
            request.client.host if request.client else None,
        )
        async with tenant_session(principal.tenant) as s:
            outcome = await decide_and_record(
                s, review_id, decision, actor, steward_scopes(request, principal), reason
            )
    except ReviewNotFound:
        raise NotFoundException() from None
    except ReviewRefused as refused:
        # Rendered, not redirected: the refusal is the answer to this request.
        return await _queue(principal, request, query, error=str(refused), status=HTTP_409_CONFLICT)  # type: ignore[return-value]
    verb = "Merged" if decision == "merge" else "Kept apart"
    done = f"{verb}: review #{review_id}, {outcome.entity} {outcome.code}."
    target = f"/t/{principal.tenant.slug}/steward?{query.query_string(done=done)}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


@post(
    "/steward/{review_id:int}/merge",
    guards=[requires(PERMISSION)],
    operation_id="stewardMerge",
)
async def merge_review(
    principal: NamedDependency[Principal],
    review_id: FromPath[int],
    request: Request[Any, Any, Any],
) -> Response[Any]:
    return await _decide(principal, request, review_id, "merge")


@post(
    "/steward/{review_id:int}/keep-apart",
    guards=[requires(PERMISSION)],
    operation_id="stewardKeepApart",
)
async def keep_apart_review(
    principal: NamedDependency[Principal],
    review_id: FromPath[int],
    request: Request[Any, Any, Any],
) -> Response[Any]:
    return await _decide(principal, request, review_id, "keep_apart")


ROUTES = [StaffPages(steward_queue, merge_review, keep_apart_review)]
