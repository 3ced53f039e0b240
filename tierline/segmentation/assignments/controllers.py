"""The segmentation JSON API under ``/api/v1/``.

The tenant always comes from the credential (bearer token or session), never from the path or
the body. Refusals are problem details: an invalid scheme document is 422 with ``errors``
(``path``, ``line``, ``message``), an unknown scheme or run 404, a refused change 409.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from tierline.platform.access import requires
from tierline.platform.errors import problem_response
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here
from tierline.platform.request_body import json_object
from tierline.platform.routing import Api
from tierline.platform.tenancy import tenant_session
from tierline.segmentation import queries
from tierline.segmentation.controllers import (
    APPROVE,
    APPROVE_MAJOR,
    MAX_TEXT,
    READ,
    RUN,
    WRITE,
    PageInputError,
    csv_response,
    end_of_day,
    parse_day,
    template_text,
    writeback_response,
    xlsx_response,
)
from tierline.segmentation.models import SchemeVersion, SegmentationRun
from tierline.segmentation.runs.service import Preview, dry_run, submit_run
from tierline.segmentation.schemes.document import (
    ParsedScheme,
    SchemeInvalid,
    SchemeIssue,
    parse_scheme,
    scheme_json_schema,
)
from tierline.segmentation.schemes.store import (
    create_scheme,
    get_scheme,
    list_schemes,
    publish,
    save_draft,
    scheme_summary,
    versions_of,
)

TAGS = ["segmentation"]


class BodyInvalid(PageInputError):
    title = "Invalid request body"


def issues_out(issues: list[SchemeIssue]) -> list[dict[str, Any]]:
    return [{"path": i.path, "line": i.line, "message": i.message} for i in issues]


def invalid_response(request: Request[Any, Any, Any], exc: SchemeInvalid) -> Response[Any]:
    return problem_response(
        request,
        422,
        f"the scheme document has {len(exc.errors)} problem(s)",
        "Invalid scheme",
        {"errors": issues_out(exc.errors)},
    )


async def _document_text(request: Request[Any, Any, Any], required: bool = True) -> str | None:
    """A scheme document from the body: YAML/plain text as is, or JSON ``{"text": ...}``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/json", ""):
        data = await json_object(request)
        text = data.get("text")
        if text is None and not required:
            return None
        if not isinstance(text, str):
            raise BodyInvalid('text: send the document as {"text": "..."} or as text/yaml')
    else:
        text = (await request.body()).decode("utf-8", errors="replace")
    if len(text) > MAX_TEXT:
        raise BodyInvalid(f"text: at most {MAX_TEXT:,} characters")
    return text


def _version_out(v: SchemeVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "content_hash": v.content_hash,
        "published_at": v.published_at,
        "published_by": v.published_by,
        "note": v.note,
    }


def _run_out(run: SegmentationRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "scheme": run.scheme_code,
        "version": run.version,
        "content_hash": run.content_hash,
        "engine_version": run.engine_version,
        "as_of": run.as_of,
        "status": run.status,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "inputs": run.inputs,
        "counts": run.counts,
        "warnings": run.warnings,
        "message": run.message,
    }


def _preview_out(preview: Preview) -> dict[str, Any]:
    return {
        "total": preview.total,
        "counts": preview.counts,
        "samples": preview.samples,
        "moves": preview.moves,
        "warnings": preview.warnings,
    }


def _q(request: Request[Any, Any, Any], name: str, limit: int = 200) -> str:
    return (request.query_params.get(name) or "").strip()[:limit]


def _limit(request: Request[Any, Any, Any], default: int = 100) -> int:
    raw = _q(request, "limit", 10)
    if raw and not raw.isdigit():
        raise BodyInvalid("limit: a whole number from 1 to 1000")
    return queries.clamp(int(raw) if raw else default, default)


# ---------------------------------------------------------------------------------------------
# Schemes


@get(
    "/schemes",
    guards=[requires(READ)],
    operation_id="listSchemes",
    tags=TAGS,
)
async def api_list_schemes(principal: NamedDependency[Principal]) -> dict[str, Any]:
    """Schemes of the caller's tenant with the version in force and run times."""
    async with tenant_session(principal.tenant) as s:
        rows = await list_schemes(s)
    return {"items": [scheme_summary(r) for r in rows]}


@get(
    "/schemes/schema",
    guards=[requires(READ)],
    operation_id="schemeJsonSchema",
    tags=TAGS,
)
async def api_scheme_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scheme document."""
    return scheme_json_schema()


@get(
    "/schemes/{code:str}",
    guards=[requires(READ)],
    operation_id="getScheme",
    tags=TAGS,
)
async def api_get_scheme(
    principal: NamedDependency[Principal], code: FromPath[str]
) -> dict[str, Any]:
    """A scheme: its draft text and every published version."""
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, code)
        versions = await versions_of(s, code)
    return {
        **scheme_summary(row),
        "draft": row.draft_text,
        "versions": [_version_out(v) for v in versions],
    }


@post(
    "/schemes",
    guards=[requires(WRITE)],
    operation_id="createScheme",
    status_code=HTTP_201_CREATED,
    tags=TAGS,
)
async def api_create_scheme(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Create a scheme from a document (text/yaml, or JSON ``{"text"}``) or a template
    (JSON ``{"template": name, "code"?: code}``)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    text: str | None
    if content_type in ("application/json", ""):
        data = await json_object(request)
        if "template" in data:
            text = template_text(str(data["template"])[:100], str(data.get("code") or "") or None)
        else:
            text = await _document_text(request)
    else:
        text = await _document_text(request)
    assert text is not None
    try:
        async with tenant_session(principal.tenant) as s:
            parsed = await create_scheme(s, text, actor_of(request, principal))
            row = await get_scheme(s, parsed.scheme.code)
            summary = scheme_summary(row)
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    return Response(
        {**summary, "warnings": issues_out(parsed.warnings)}, status_code=HTTP_201_CREATED
    )


@put(
    "/schemes/{code:str}/draft",
    guards=[requires(WRITE)],
    operation_id="saveSchemeDraft",
    tags=TAGS,
)
async def api_save_draft(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: FromPath[str]
) -> dict[str, Any]:
    """Keep the document as the draft, valid or not; the answer says what validation found."""
    text = await _document_text(request)
    assert text is not None
    async with tenant_session(principal.tenant) as s:
        verdict = await save_draft(s, code, text, actor_of(request, principal))
    if isinstance(verdict, SchemeInvalid):
        return {"saved": True, "valid": False, "errors": issues_out(verdict.errors), "warnings": []}
    return {"saved": True, "valid": True, "errors": [], "warnings": issues_out(verdict.warnings)}


@post(
    "/schemes/{code:str}/publish",
    guards=[requires(WRITE)],
    operation_id="publishScheme",
    status_code=HTTP_201_CREATED,
    tags=TAGS,
)
async def api_publish(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: FromPath[str]
) -> Response[Any]:
    """Publish the draft as the next version (JSON ``{"note"}`` optional)."""
    data = await json_object(request)
    note = str(data.get("note") or "").strip()[:2000] or None
    try:
        async with tenant_session(principal.tenant) as s:
            version = await publish(s, code, actor_of(request, principal), note)
            out = _version_out(version)
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    return Response({"scheme": code, **out}, status_code=HTTP_201_CREATED)


@post(
    "/schemes/{target:str}",
    guards=[requires(WRITE)],
    operation_id="dryRunScheme",
    status_code=200,
    tags=TAGS,
)
async def api_dry_run(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    target: FromPath[str],
) -> Response[Any]:
    """``POST /api/v1/schemes/{code}:dry-run``: classify now with the draft (or JSON
    ``{"text"}``, optional ``as_of``) and report counts, samples and moves; writes nothing."""
    code, _, verb = target.partition(":")
    if verb != "dry-run":
        raise NotFoundException()
    data = await json_object(request)
    text = data.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise BodyInvalid(f"text: a string of at most {MAX_TEXT:,} characters")
    as_of = _as_of(data.get("as_of"))
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, code)
    try:
        parsed: ParsedScheme = parse_scheme(text if text is not None else row.draft_text or "")
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    if parsed.scheme.code != code:
        return invalid_response(
            request, SchemeInvalid([SchemeIssue("code", f"the code of this scheme is '{code}'")])
        )
    preview = await dry_run(state.runtime, principal.tenant, parsed.scheme, as_of)
    return Response(
        {"scheme": code, **_preview_out(preview), "warnings_scheme": issues_out(parsed.warnings)}
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
    tags=TAGS,
)
async def api_start_run(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Queue a run of a scheme's version in force (``{"scheme", "as_of"?}``); poll the job."""
    data = await json_object(request)
    code = data.get("scheme")
    if not isinstance(code, str) or not code:
        raise BodyInvalid("scheme: name the scheme to run")
    job = await submit_run(
        state.runtime,
        principal.tenant,
        code[:40],
        actor_of(request, principal),
        as_of=_as_of(data.get("as_of")),
        trigger="api",
    )
    return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}


@get(
    "/segment-runs",
    guards=[requires(READ)],
    operation_id="listSegmentRuns",
    tags=TAGS,
)
async def api_list_runs(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Runs, newest first (``scheme``, ``before`` cursor, ``limit``)."""
    async with tenant_session(principal.tenant) as s:
        page = await queries.list_runs(
            s,
            _q(request, "scheme", 40) or None,
            _limit(request, 50),
            _q(request, "before", 200) or None,
        )
    return {"items": [_run_out(r) for r in page.rows], "next_cursor": page.next_before}


@get(
    "/segment-runs/{run_id:str}",
    guards=[requires(READ)],
    operation_id="getSegmentRun",
    tags=TAGS,
)
async def api_get_run(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> dict[str, Any]:
    """A run with its move matrix and one page of results (``outcome``, ``after``, ``limit``;
    by default every result that is not ``unchanged``)."""
    async with tenant_session(principal.tenant) as s:
        detail = await queries.run_detail(
            s,
            run_id,
            outcome=_q(request, "outcome", 20) or None,
            after=_q(request, "after", 201) or None,
            limit=_limit(request),
        )
    if detail is None:
        raise NotFoundException()
    return {
        **_run_out(detail.run),
        "moves": detail.moves,
        "results": detail.results,
        "next_cursor": detail.next_after,
    }


# ---------------------------------------------------------------------------------------------
# Assignments, exports, conflicts, timeline


@get(
    "/segments/assignments",
    guards=[requires(READ)],
    operation_id="listSegmentAssignments",
    tags=TAGS,
)
async def api_assignments(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Assignments of ``scheme`` in force at ``as_of`` (end of that day, UTC; default now),
    filtered by ``segment`` and ``entity`` (key prefix); ``cursor`` and ``limit`` ≤ 1000."""
    scheme = _q(request, "scheme", 40)
    if not scheme:
        raise BodyInvalid("scheme: choose a scheme")
    as_of = end_of_day(parse_day(_q(request, "as_of", 10)))
    async with tenant_session(principal.tenant) as s:
        await get_scheme(s, scheme)
        page = await queries.assignments(
            s,
            scheme=scheme,
            segment=_q(request, "segment", 20) or None,
            entity=_q(request, "entity", 201) or None,
            as_of=as_of,
            after=_q(request, "cursor", 201) or None,
            limit=_limit(request),
        )
    items = [{**r, "run_id": str(r["run_id"]) if r["run_id"] else None} for r in page.rows]
    return {"scheme": scheme, "as_of": as_of, "items": items, "next_cursor": page.next_cursor}


@get(
    "/segments/assignments.csv",
    guards=[requires(READ)],
    operation_id="exportSegmentAssignmentsCsv",
    tags=TAGS,
)
async def api_assignments_csv(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Stream:
    """The filtered assignments as CSV (streamed; formula-like cells quoted)."""
    return await csv_response(request, principal)


@get(
    "/segments/assignments.xlsx",
    guards=[requires(READ)],
    operation_id="exportSegmentAssignmentsXlsx",
    tags=TAGS,
)
async def api_assignments_xlsx(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[bytes]:
    """The filtered assignments as an XLSX workbook."""
    return await xlsx_response(request, principal)


@get(
    "/segments/writeback",
    guards=[requires(READ)],
    operation_id="segmentWriteback",
    tags=TAGS,
)
async def api_writeback(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[bytes]:
    """ERP write-back file (``scheme``, ``profile``, ``segment_column``)."""
    return await writeback_response(request, principal)


@get(
    "/segments/conflicts",
    guards=[requires(READ)],
    operation_id="segmentConflicts",
    tags=TAGS,
)
async def api_conflicts(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Sales view vs segment of a customer scheme: matrix, totals, one page of accounts."""
    scheme = _q(request, "scheme", 40)
    if not scheme:
        raise BodyInvalid("scheme: choose a customer scheme")
    kind = _q(request, "kind", 20) or None
    if kind and kind not in queries.CONFLICT_KINDS:
        raise BodyInvalid(f"kind: one of {', '.join(queries.CONFLICT_KINDS)}")
    async with tenant_session(principal.tenant) as s:
        found = await queries.conflicts(
            s, scheme, kind=kind, after=_q(request, "cursor", 201) or None, limit=_limit(request)
        )
    return {
        "scheme": scheme,
        "top_segment": found.top_segment,
        "lower_half": found.lower_half,
        "matrix": found.matrix,
        "totals": found.totals,
        "run_id": str(found.run_id) if found.run_id else None,
        "items": found.rows,
        "next_cursor": found.next_cursor,
    }


@get(
    "/segments/timeline",
    guards=[requires(READ)],
    operation_id="segmentTimeline",
    tags=TAGS,
)
async def api_timeline(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Every assignment of a ``customer`` or a ``sku`` in every scheme."""
    customer, sku = _q(request, "customer", 100), _q(request, "sku", 100)
    if not customer and not sku:
        raise BodyInvalid("customer or sku: name the entity")
    async with tenant_session(principal.tenant) as s:
        rows = await queries.timeline(s, customer_code=customer or None, sku=sku or None)
    return {"items": [{**r, "run_id": str(r["run_id"]) if r["run_id"] else None} for r in rows]}


# ---------------------------------------------------------------------------------------------
# Pending moves


def _move_out(m: Any) -> dict[str, Any]:
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
    tags=TAGS,
)
async def api_moves(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """Moves (``status`` default pending; ``scheme``, ``reason``, ``entity``, ``cursor``)."""
    raw_cursor = _q(request, "cursor", 20)
    if raw_cursor and not raw_cursor.isdigit():
        raise BodyInvalid("cursor: not a cursor this API returned")
    async with tenant_session(principal.tenant) as s:
        page = await queries.pending_moves(
            s,
            _q(request, "scheme", 40) or None,
            _q(request, "status", 12) or "pending",
            reason=_q(request, "reason", 40) or None,
            entity=_q(request, "entity", 201) or None,
            after_id=int(raw_cursor) if raw_cursor else None,
            limit=_limit(request),
        )
    return {
        "items": [_move_out(m) for m in page.rows],
        "next_cursor": str(page.next_after_id) if page.next_after_id else None,
    }


@post(
    "/segments/moves:decide",
    guards=[requires(APPROVE)],
    operation_id="decidePendingMoves",
    status_code=200,
    tags=TAGS,
)
async def api_decide_moves(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    """``{"ids": [...], "decision": "apply"|"reject", "reason": "..."}``: all or nothing."""
    data = await json_object(request)
    ids = data.get("ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise BodyInvalid("ids: a list of move ids")
    decision = data.get("decision")
    reason = data.get("reason")
    if not isinstance(reason, str):
        reason = ""
    async with tenant_session(principal.tenant) as s:
        count = await queries.decide_moves(
            s,
            ids,
            decision,  # type: ignore[arg-type]  # checked by decide_moves
            actor_of(request, principal),
            reason[:2000],
            allow_major=_holds(request, principal, APPROVE_MAJOR),
            tenant_slug=principal.tenant.slug,
        )
    return {"decided": count, "status": "applied" if decision == "apply" else "rejected"}


def _holds(request: Request[Any, Any, Any], principal: Principal, permission: str) -> bool:
    if principal.is_client:
        return permission in principal.client_scopes
    return allowed_here(request, permission)


ROUTES = [
    Api(
        api_list_schemes,
        api_scheme_schema,
        api_get_scheme,
        api_create_scheme,
        api_save_draft,
        api_publish,
        api_dry_run,
        api_start_run,
        api_list_runs,
        api_get_run,
        api_assignments,
        api_assignments_csv,
        api_assignments_xlsx,
        api_writeback,
        api_conflicts,
        api_timeline,
        api_moves,
        api_decide_moves,
    )
]
