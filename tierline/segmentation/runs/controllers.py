"""Runs: a queued run's progress, a run's page, and the run API.

Pages: ``/segments/jobs/{job_id}`` shows a queued or running run's progress (htmx polls it, a
refresh works without JavaScript) and ``/segments/runs/{run_id}`` its inputs, counts and moves.
API (``/api/v1/segment-runs``): queue a run (poll the job), list runs newest first, one run with
its move matrix and a page of results. Runs are started from the editor page as well
(:mod:`tierline.segmentation.schemes.controllers`). Permissions: see
:mod:`tierline.segmentation.web`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.response import Template
from litestar.status_codes import HTTP_202_ACCEPTED

from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.jobs import JobNotFound, get_tenant_job
from tierline.platform.jobs.schemas import JobStartedOut, job_started
from tierline.platform.pagination import PAGED, Page, PageRequest, encode_cursor
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.assignments.queries import segment_counts
from tierline.segmentation.models import SegmentationRun
from tierline.segmentation.runs.queries import list_runs, run_detail, run_variability
from tierline.segmentation.runs.schemas import (
    RunDetailOut,
    RunMoveOut,
    RunOut,
    RunResultOut,
    RunStartIn,
)
from tierline.segmentation.runs.service import RUN_JOB, submit_run
from tierline.segmentation.runs.stability import OUTCOMES
from tierline.segmentation.schemes.store import segment_catalogue
from tierline.segmentation.web import (
    READ,
    RUN,
    BodyInvalid,
    base_path,
    page_context,
    page_limit,
    parse_day,
    query_text,
    with_query,
)


@get(
    "/segments/jobs/{job_id:str}",
    guards=[requires(READ)],
    operation_id="segmentRunJobPage",
)
async def run_job_page(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    job_id: FromPath[str],
) -> Template:
    """A queued or running run: live progress (htmx, or a refresh without JavaScript)."""
    try:
        job = await get_tenant_job(state.runtime, principal.tenant, job_id)
    except JobNotFound:
        raise NotFoundException() from None
    if job.get("kind") != RUN_JOB:
        raise NotFoundException()
    fragment = request.headers.get("hx-request") == "true"
    template = "segmentation/_job.html" if fragment else "segmentation/job.html"
    return Template(template, context=page_context(request, principal, job=job))


@get(
    "/segments/runs/{run_id:str}",
    guards=[requires(READ)],
    operation_id="segmentRunPage",
)
async def run_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    run_id: FromPath[str],
) -> Template:
    """Inputs, counts per segment and outcome, moves (paged, by outcome), warnings."""
    outcome = query_text(request, "outcome", 20)
    if outcome and outcome not in (*OUTCOMES, "all"):
        outcome = ""
    default = query_text(request, "default", 80)
    after = query_text(request, "after", 201) or None
    async with tenant_session(principal.tenant) as s:
        detail = await run_detail(
            s,
            run_id,
            outcome=outcome or None,
            after=after,
            limit=page_limit(query_text(request, "limit")),
            default=default or None,
        )
        if detail is None:
            raise NotFoundException()
        catalogue = (await segment_catalogue(s, [detail.run.scheme_code])).get(
            detail.run.scheme_code, []
        )
        variability = await run_variability(s, detail.run)
        in_force = await segment_counts(s, detail.run.scheme_code)
    path = f"{base_path(principal.tenant)}/runs/{detail.run.id}"
    kept = {"outcome": outcome, "default": default}
    context = page_context(
        request,
        principal,
        run=detail.run,
        detail=detail,
        catalogue=catalogue,
        colours={seg.code: seg.colour for seg in catalogue},
        outcomes=OUTCOMES,
        outcome=outcome,
        default=default,
        variability=variability,
        in_force=in_force,
        filter_url=lambda **changes: with_query(path, {**kept, **changes}),
        next_url=with_query(path, {**kept, "after": detail.next_after})
        if detail.next_after
        else None,
        first_url=with_query(path, kept) if after else None,
    )
    return Template("segmentation/run.html", context=context)


# ---------------------------------------------------------------------------------------------
# The run API


def _run_out(run: SegmentationRun) -> RunOut:
    return RunOut(
        id=str(run.id),
        scheme=run.scheme_code,
        version=run.version,
        content_hash=run.content_hash,
        engine_version=run.engine_version,
        as_of=run.as_of,
        status=run.status,
        trigger=run.trigger,
        requested_by=run.requested_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        inputs=run.inputs,
        counts=run.counts,
        warnings=run.warnings,
        message=run.message,
    )


def _as_of(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise BodyInvalid("as_of: a date like 2026-03-31")
    return parse_day(raw)


# ---------------------------------------------------------------------------------------------
# Runs


@post(
    "/segment-runs",
    guards=[requires(RUN)],
    operation_id="startSegmentRun",
    status_code=HTTP_202_ACCEPTED,
)
async def api_start_run(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    data: RunStartIn,
) -> JobStartedOut:
    """Queue a run of the scheme's version in force, as of ``as_of`` (default today); poll
    the job at ``status_url``. A refused run (no published version, a freeze window) is 409."""
    code = data.scheme.strip()
    if not code:
        raise BodyInvalid("scheme: name the scheme to run")
    job = await submit_run(
        state.runtime,
        principal.tenant,
        code[:40],
        actor_of(request, principal),
        as_of=_as_of(data.as_of),
        trigger="api",
    )
    return job_started(job)


@get(
    "/segment-runs",
    guards=[requires(READ)],
    operation_id="listSegmentRuns",
    dependencies=PAGED,
)
async def api_list_runs(
    principal: NamedDependency[Principal],
    page: PageRequest,
    scheme: Annotated[str | None, Parameter(max_length=40, description="A scheme's code.")] = None,
) -> Page[RunOut]:
    """Runs, newest first, of every scheme or of ``scheme``."""
    async with tenant_session(principal.tenant) as s:
        found = await list_runs(s, (scheme or "").strip() or None, page.limit, page.cursor)
    return Page([_run_out(r) for r in found.rows], found.next_before)


@get(
    "/segment-runs/{run_id:str}",
    guards=[requires(READ)],
    operation_id="getSegmentRun",
    dependencies=PAGED,
)
async def api_get_run(
    principal: NamedDependency[Principal],
    run_id: FromPath[str],
    page: PageRequest,
    outcome: Annotated[
        str | None,
        Parameter(
            max_length=20,
            description="Results with this outcome (``all`` for every one); by default every "
            "result that is not ``unchanged``.",
        ),
    ] = None,
    default: Annotated[
        str | None,
        Parameter(
            max_length=80,
            description="Results classified on the default of this attribute (``any``: any).",
        ),
    ] = None,
) -> RunDetailOut:
    """A run with its move matrix, the count of entities classified on each default
    (``defaults_used``: attribute -> entities) and one page of results (``limit``,
    ``cursor``); each result lists its own ``defaults_used``."""
    position = page.position()
    async with tenant_session(principal.tenant) as s:
        detail = await run_detail(
            s,
            run_id,
            outcome=(outcome or "").strip() or None,
            after=str(position[0]) if position else None,
            limit=page.limit,
            default=(default or "").strip() or None,
        )
    if detail is None:
        raise NotFoundException()
    return RunDetailOut(
        **msgspec.structs.asdict(_run_out(detail.run)),
        defaults_used=detail.defaults_used,
        moves=[msgspec.convert(m, RunMoveOut) for m in detail.moves],
        results=[msgspec.convert(r, RunResultOut) for r in detail.results],
        next_cursor=encode_cursor((detail.next_after,)) if detail.next_after else None,
    )


ROUTES = [
    StaffPages(run_job_page, run_page),
    Api(api_start_run, api_list_runs, api_get_run),
]
