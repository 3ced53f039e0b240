"""The data steward's queue over the JSON API: the same reviews, checks and audit as the pages.

- ``GET /api/v1/steward/reviews``: open reviews, oldest first, each with its candidate golden
  record side by side (filters ``entity``, ``source``; cursor paging with ``after``).
- ``POST /api/v1/steward/reviews/{id}/merge`` and ``…/keep-apart``: the decision, with an
  optional ``reason`` for the audit log.

Permission ``steward:resolve``; a steward limited to some scopes sees and decides only reviews
whose candidate lies in them, others are 404 (like another tenant's). A review decided
meanwhile (by another steward, or settled by a later import) is 409 and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from tierline.masterdata.golden.controllers import ENTITIES, PERMISSION, steward_scopes
from tierline.masterdata.golden.queue import ReviewView, open_reviews
from tierline.masterdata.golden.schemas import (
    DecisionIn,
    DecisionOut,
    FieldOut,
    ReviewListOut,
    ReviewOut,
)
from tierline.masterdata.golden.service import Decision, ReviewNotFound, decide_and_record
from tierline.platform.access import requires
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import PAGED, PageRequest, encode_cursor
from tierline.platform.routing import Api
from tierline.platform.tenancy import tenant_session


class InvalidStewardQuery(DomainError):
    status_code = 422
    title = "Invalid query"


def _review_out(view: ReviewView) -> ReviewOut:
    return ReviewOut(
        id=view.id,
        entity=view.entity,
        source_system=view.source_system,
        source_key=view.source_key,
        candidate_code=view.candidate_code,
        score=view.score,
        reasons=view.reasons,
        created_at=view.created_at,
        fields=[FieldOut(f.name, f.source, f.golden, f.differs) for f in view.fields],
        candidate_missing=view.candidate_missing,
    )


def _query(
    entity: str | None, source: str | None, page: PageRequest
) -> tuple[str | None, str | None, int | None]:
    """The filters as given, each refused naming itself (an API client wants to know)."""
    chosen = (entity or "").strip().lower() or None
    if chosen is not None and chosen not in ENTITIES:
        raise InvalidStewardQuery(f"entity: one of {', '.join(ENTITIES)}")
    system = (source or "").strip().lower() or None
    if system is not None and len(system) > 40:
        raise InvalidStewardQuery("source: at most 40 characters")
    position = page.position()
    if position is not None and not isinstance(position[0], int):
        raise InvalidStewardQuery("cursor: not a cursor this API returned")
    return chosen, system, int(position[0]) if position else None


@get(
    "/steward/reviews",
    guards=[requires(PERMISSION)],
    operation_id="listStewardReviews",
    dependencies=PAGED,
)
async def api_reviews(
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    page: PageRequest,
    entity: Annotated[str | None, QueryParameter(description="customer or product.")] = None,
    source: Annotated[str | None, QueryParameter(description="Source system.")] = None,
) -> ReviewListOut:
    """Open reviews, oldest first, each with its source record and candidate side by side."""
    chosen, system, cursor = _query(entity, source, page)
    size = page.limit
    async with tenant_session(principal.tenant) as s:
        views, more = await open_reviews(
            await s.connection(),
            entity=chosen,
            source_system=system,
            scopes=steward_scopes(request, principal),
            after=cursor,
            limit=size,
        )
    return ReviewListOut([_review_out(v) for v in views], encode_cursor((more,)) if more else None)


async def _decide(
    principal: Principal,
    request: Request[Any, Any, Any],
    review_id: int,
    decision: Decision,
    body: DecisionIn | None,
) -> DecisionOut:
    reason = (body.reason or "").strip() or None if body is not None else None
    try:
        async with tenant_session(principal.tenant) as s:
            outcome = await decide_and_record(
                s,
                review_id,
                decision,
                actor_of(request, principal),
                steward_scopes(request, principal),
                reason,
            )
    except ReviewNotFound:
        raise NotFoundException() from None
    return DecisionOut(
        review_id=outcome.review_id,
        status=outcome.status,
        entity=outcome.entity,
        source_system=outcome.source_system,
        source_key=outcome.source_key,
        code=outcome.code,
        other_candidates_closed=outcome.siblings_closed,
    )


@post(
    "/steward/reviews/{review_id:int}/merge",
    guards=[requires(PERMISSION)],
    operation_id="stewardMergeReview",
    status_code=200,
)
async def api_merge(
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    review_id: FromPath[int],
    data: DecisionIn | None = None,
) -> DecisionOut:
    """Link the source record to the candidate golden record; survivorship decides its values.
    Body (optional): ``{"reason": "…"}`` for the audit log."""
    return await _decide(principal, request, review_id, "merge", data)


@post(
    "/steward/reviews/{review_id:int}/keep-apart",
    guards=[requires(PERMISSION)],
    operation_id="stewardKeepApartReview",
    status_code=200,
)
async def api_keep_apart(
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    review_id: FromPath[int],
    data: DecisionIn | None = None,
) -> DecisionOut:
    """A golden record of its own for the source record. Body (optional): ``{"reason": …}``."""
    return await _decide(principal, request, review_id, "keep_apart", data)


ROUTES = [Api(api_reviews, api_merge, api_keep_apart)]
