"""Segmentation pages for staff under ``/t/{tenant}/segments``.

Every page works as plain links and form posts; htmx only polls a run's progress and loads the
segment timeline into the customer and product pages. Who may do what:

- ``segments:read``: every page (schemes, editor read-only, runs, assignments and exports,
  conflicts, timeline, pending moves);
- ``schemes:write``: create a scheme, save / validate / dry-run / publish its draft;
- ``segments:run``: start a run;
- ``overrides:approve``: apply or reject pending moves (``overrides:approve_major`` as well for
  moves that jump tiers).

A principal of another tenant gets 404 (the sign-in layer refuses it; every handler repeats
the check). Forms carry the session's CSRF token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import ProfileError, get_profile, list_profiles
from tierline.platform.access import requires
from tierline.platform.audit.service import record_by
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here
from tierline.platform.jobs import JobNotFound, get_tenant_job
from tierline.platform.pages import fmt_number, fmt_share, fmt_time
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation import export, queries
from tierline.segmentation.models import SegmentationScheme
from tierline.segmentation.runs.service import RUN_JOB, Preview, dry_run, submit_run
from tierline.segmentation.schemes.document import (
    Scheme,
    SchemeInvalid,
    SchemeIssue,
    in_freeze,
    load_template,
    parse_scheme,
    template_names,
)
from tierline.segmentation.runs.stability import OUTCOMES
from tierline.segmentation.schemes.store import (
    SchemeRefused,
    create_scheme,
    get_scheme,
    list_schemes,
    publish,
    published,
    save_draft,
    versions_of,
)

READ = "segments:read"
WRITE = "schemes:write"
RUN = "segments:run"
APPROVE = "overrides:approve"
APPROVE_MAJOR = "overrides:approve_major"
MAX_TEXT = 200_000  # characters of a scheme document


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _base(tenant: TenantRef) -> str:
    return f"/t/{tenant.slug}/segments"


def _context(request: Request[Any, Any, Any], principal: Principal, **extra: Any) -> dict[str, Any]:
    tenant = principal.tenant
    return {
        "tenant": tenant,
        "principal": principal,
        "base": _base(tenant),
        "can_write": allowed_here(request, WRITE),
        "can_run": allowed_here(request, RUN),
        "can_approve": allowed_here(request, APPROVE),
        "fmt_time": fmt_time,
        "fmt_number": fmt_number,
        "fmt_share": fmt_share,
        "quote": lambda value: quote(str(value), safe=""),
        "customer_url": lambda code: f"/t/{tenant.slug}/customers/{quote(code, safe='')}",
        "product_url": lambda sku: f"/t/{tenant.slug}/products/{quote(sku, safe='')}",
        **extra,
    }


def _q(request: Request[Any, Any, Any], name: str, limit: int = 200) -> str:
    return (request.query_params.get(name) or "").strip()[:limit]


def _url(path: str, params: dict[str, Any]) -> str:
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _limit(raw: str, default: int = 100) -> int:
    return queries.clamp(int(raw) if raw.isdigit() else default, default)


def parse_day(raw: str, name: str = "as_of") -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PageInputError(f"{name}: use a date like 2026-03-31") from None


def end_of_day(day: date | None) -> datetime | None:
    """Assignments in force at the end of ``day`` (the state a planner means by "as of")."""
    if day is None:
        return None
    return datetime.combine(day, time.max, UTC)


class PageInputError(DomainError):
    status_code = 422
    title = "Invalid input"


# ---------------------------------------------------------------------------------------------
# Schemes list and creation


@get(
    "/segments",
    guards=[requires(READ)],
    operation_id="segmentsPage",
)
async def segments_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Schemes with the version in force, last and next run; new scheme from a template."""
    return await _schemes_template(request, principal, error=_q(request, "error", 500) or None)


async def _schemes_template(
    request: Request[Any, Any, Any],
    principal: Principal,
    error: str | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        schemes = await list_schemes(s)
        runs = await queries.list_runs(s, limit=10)
        counts = {row.code: await queries.segment_counts(s, row.code) for row in schemes}
        catalogue = await queries.segment_catalogue(s)
    context = _context(
        request,
        principal,
        schemes=schemes,
        runs=runs.rows,
        counts=counts,
        catalogue=catalogue,
        templates=template_names(),
        error=error,
    )
    return Template("segmentation/schemes.html", context=context, status_code=status)


_CODE_LINE = re.compile(r"^code:[ \t]*\S.*$", re.MULTILINE)
_SCHEME_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def template_text(name: str, code: str | None) -> str:
    """A shipped template's text, with its ``code`` replaced when one is given."""
    try:
        text = load_template(name)
    except KeyError:
        raise PageInputError(f"template: choose one of {', '.join(template_names())}") from None
    if code:
        if not _SCHEME_CODE.fullmatch(code):
            raise PageInputError("code: 2-40 lower-case letters, digits and _, starting a-z")
        text = _CODE_LINE.sub(f"code: {code}", text, count=1)
    return text


@post(
    "/segments/schemes",
    guards=[requires(WRITE)],
    operation_id="createSchemePage",
)
async def create_scheme_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Create a scheme from a template; the editor opens on it."""
    form = await request.form()
    name = str(form.get("template", ""))[:100]
    code = str(form.get("code", "")).strip()[:40] or None
    try:
        text = template_text(name, code)
        async with tenant_session(principal.tenant) as s:
            parsed = await create_scheme(s, text, actor_of(request, principal))
    except (PageInputError, SchemeRefused) as exc:
        return await _schemes_template(request, principal, str(exc), 422)  # type: ignore[return-value]
    except SchemeInvalid as exc:
        message = "; ".join(str(e) for e in exc.errors[:5])
        return await _schemes_template(request, principal, message, 422)  # type: ignore[return-value]
    target = f"{_base(principal.tenant)}/schemes/{quote(parsed.scheme.code)}?created=1"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The scheme editor


@dataclass
class EditorState:
    """What the editor shows besides the stored scheme: the text in the box and the verdicts."""

    text: str
    errors: list[SchemeIssue] = field(default_factory=list)
    warnings: list[SchemeIssue] = field(default_factory=list)
    notice: str | None = None
    alert: str | None = None
    preview: Preview | None = None
    parsed: Scheme | None = None
    note: str = ""


def numbered_lines(text: str, errors: list[SchemeIssue]) -> list[dict[str, Any]]:
    """The document's lines for the numbered view, with the messages of each line."""
    by_line: dict[int, list[str]] = {}
    for issue in errors:
        if issue.line:
            by_line.setdefault(issue.line, []).append(f"{issue.path}: {issue.message}")
    return [
        {"number": n, "text": line, "errors": by_line.get(n, [])}
        for n, line in enumerate(text.splitlines() or [""], start=1)
    ]


async def _editor_template(
    request: Request[Any, Any, Any],
    principal: Principal,
    code: str,
    state: EditorState | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, code)
        versions = await versions_of(s, code)
        in_force: Scheme | None
        try:
            in_force = (await published(s, code)).scheme
        except SchemeRefused:
            in_force = None
        runs = await queries.list_runs(s, scheme_code=code, limit=10)
        catalogue = await queries.segment_catalogue(s, [code])
    state = state or EditorState(row.draft_text or "")
    if state.parsed is None and not state.errors and state.text:
        try:
            state.parsed = parse_scheme(state.text).scheme
        except SchemeInvalid:
            state.parsed = None
    shown = state.parsed or in_force
    colours = {seg.code: seg.colour for seg in shown.segments} if shown else {}
    names = {seg.code: seg.name for seg in shown.segments} if shown else {}
    today = datetime.now(UTC).date()
    context = _context(
        request,
        principal,
        row=row,
        state=state,
        lines=numbered_lines(state.text, state.errors),
        versions=versions,
        in_force=in_force,
        runs=runs.rows,
        catalogue=catalogue.get(code, []),
        colours=colours,
        segment_names=names,
        frozen_now=in_force_freeze(in_force, today),
        created=request.query_params.get("created") == "1",
        saved=request.query_params.get("saved") == "1",
        published_version=request.query_params.get("published"),
        max_text=MAX_TEXT,
    )
    return Template("segmentation/editor.html", context=context, status_code=status)


def in_force_freeze(scheme: Scheme | None, day: date) -> Any:
    return None if scheme is None else in_freeze(scheme, day)


@get(
    "/segments/schemes/{code:str}",
    guards=[requires(READ)],
    operation_id="schemeEditorPage",
)
async def scheme_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
) -> Template:
    """The draft in an editor, validation, dry run, publishing, versions and runs."""
    return await _editor_template(request, principal, code)


async def _dry_run_state(
    request: Request[Any, Any, Any], principal: Principal, code: str, text: str
) -> tuple[EditorState, int]:
    state = EditorState(text)
    try:
        parsed = parse_scheme(text)
    except SchemeInvalid as exc:
        state.errors = exc.errors
        state.alert = "The draft has errors; fix them to preview it."
        return state, 422
    if parsed.scheme.code != code:
        state.errors = [SchemeIssue("code", f"the code of this scheme is '{code}'", None)]
        return state, 422
    state.parsed, state.warnings = parsed.scheme, parsed.warnings
    state.preview = await dry_run(request.app.state.runtime, principal.tenant, parsed.scheme)
    state.notice = f"Dry run: {state.preview.total:,} entities classified; nothing was saved."
    return state, 200


@post(
    "/segments/schemes/{code:str}",
    guards=[requires(WRITE)],
    operation_id="schemeEditorSubmit",
)
async def scheme_submit(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
) -> Response[Any]:
    """One form, four buttons: ``action`` = save | validate | dry_run | publish."""
    form = await request.form()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    action = str(form.get("action", "save"))
    note = str(form.get("note", "")).strip()[:2000]
    if len(text) > MAX_TEXT:
        state = EditorState(
            text[:MAX_TEXT], alert=f"The document is longer than {MAX_TEXT:,} characters."
        )
        return await _editor_template(request, principal, code, state, 422)  # type: ignore[return-value]
    actor = actor_of(request, principal)
    if action == "validate":
        state = EditorState(text, note=note)
        try:
            parsed = parse_scheme(text)
            state.parsed, state.warnings = parsed.scheme, parsed.warnings
            state.notice = "The draft is valid (not saved)."
            status = 200
        except SchemeInvalid as exc:
            state.errors, status = exc.errors, 422
        return await _editor_template(request, principal, code, state, status)  # type: ignore[return-value]
    if action == "dry_run":
        state, status = await _dry_run_state(request, principal, code, text)
        return await _editor_template(request, principal, code, state, status)  # type: ignore[return-value]
    async with tenant_session(principal.tenant) as s:
        verdict = await save_draft(s, code, text, actor)
    if isinstance(verdict, SchemeInvalid):
        state = EditorState(text, errors=verdict.errors, note=note)
        state.alert = (
            "Saved as a draft with errors; nothing was published."
            if action == "publish"
            else "Saved as a draft with errors; fix them before publishing."
        )
        return await _editor_template(request, principal, code, state, 422)  # type: ignore[return-value]
    base = f"{_base(principal.tenant)}/schemes/{quote(code)}"
    if action != "publish":
        return Redirect(f"{base}?saved=1", status_code=303)  # type: ignore[return-value]
    try:
        async with tenant_session(principal.tenant) as s:
            version = await publish(s, code, actor, note or None)
    except SchemeRefused as exc:
        state = EditorState(text, alert=str(exc), note=note)
        return await _editor_template(request, principal, code, state, 409)  # type: ignore[return-value]
    except SchemeInvalid as exc:
        state = EditorState(text, errors=exc.errors, alert="Nothing was published.", note=note)
        return await _editor_template(request, principal, code, state, 422)  # type: ignore[return-value]
    return Redirect(f"{base}?published={version.version}", status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Runs


@post(
    "/segments/schemes/{code:str}/run",
    guards=[requires(RUN)],
    operation_id="startRunPage",
)
async def start_run(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
) -> Response[Any]:
    """Queue a run of the version in force; the job page shows its progress."""
    form = await request.form()
    try:
        as_of = parse_day(str(form.get("as_of", "")).strip())
        job = await submit_run(
            request.app.state.runtime,
            principal.tenant,
            code,
            actor_of(request, principal),
            as_of=as_of,
            trigger="manual",
        )
    except (SchemeRefused, PageInputError) as exc:
        state = None
        async with tenant_session(principal.tenant) as s:
            state = EditorState((await get_scheme(s, code)).draft_text or "", alert=str(exc))
        return await _editor_template(request, principal, code, state, exc.status_code)  # type: ignore[return-value]
    target = f"{_base(principal.tenant)}/jobs/{quote(str(job['id']), safe='')}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


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
    return Template(template, context=_context(request, principal, job=job))


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
    outcome = _q(request, "outcome", 20)
    if outcome and outcome not in (*OUTCOMES, "all"):
        outcome = ""
    after = _q(request, "after", 201) or None
    async with tenant_session(principal.tenant) as s:
        detail = await queries.run_detail(
            s, run_id, outcome=outcome or None, after=after, limit=_limit(_q(request, "limit"))
        )
        if detail is None:
            raise NotFoundException()
        catalogue = (await queries.segment_catalogue(s, [detail.run.scheme_code])).get(
            detail.run.scheme_code, []
        )
    path = f"{_base(principal.tenant)}/runs/{detail.run.id}"
    context = _context(
        request,
        principal,
        run=detail.run,
        detail=detail,
        catalogue=catalogue,
        colours={seg.code: seg.colour for seg in catalogue},
        outcomes=OUTCOMES,
        outcome=outcome,
        next_url=_url(path, {"outcome": outcome, "after": detail.next_after})
        if detail.next_after
        else None,
        first_url=_url(path, {"outcome": outcome}) if after else None,
    )
    return Template("segmentation/run.html", context=context)


# ---------------------------------------------------------------------------------------------
# Pending moves


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
        page = await queries.pending_moves(
            s,
            filters["scheme"] or None,
            filters["status"],
            reason=filters["reason"] or None,
            entity=filters["entity"] or None,
            after_id=int(raw_after) if raw_after.isdigit() else None,
            limit=_limit(_q(request, "limit")),
        )
        schemes = await list_schemes(s)
        reasons = await queries.move_reasons(s)
        catalogue = await queries.segment_catalogue(s)
    path = f"{_base(principal.tenant)}/moves"
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
        next_url=_url(path, {**filters, "after": page.next_after_id})
        if page.next_after_id
        else None,
        decided=_q(request, "decided", 80),
        alert=alert,
        form=form or {},
        statuses=("pending", "applied", "rejected", "superseded"),
    )
    return Template("segmentation/moves.html", context=context, status_code=status)


def _ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.strip().isdigit():
            raise queries.MovesRefused(f"moves: '{value[:20]}' is not a move id")
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
            count = await queries.decide_moves(
                s,
                ids,
                decision,  # type: ignore[arg-type]  # checked by decide_moves
                actor_of(request, principal),
                reason,
                allow_major=allowed_here(request, APPROVE_MAJOR),
                tenant_slug=principal.tenant.slug,
            )
    except (queries.MovesRefused, queries.MovesForbidden, queries.MovesNotFound) as exc:
        sent = {
            "reason": reason,
            "move": [str(v) for v in form.getall("move")] if "move" in form else [],
        }
        return await _moves_template(request, principal, str(exc), exc.status_code, sent)  # type: ignore[return-value]
    done = "applied" if decision == "apply" else "rejected"
    target = f"{_base(principal.tenant)}/moves?decided={quote(f'{count} {done}')}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Assignments and exports


@dataclass(frozen=True)
class AssignmentQuery:
    scheme: str
    segment: str
    entity: str
    as_of: date | None
    after: str | None
    limit: int

    def where(self) -> export.AssignmentFilter:
        return export.AssignmentFilter(
            self.scheme, self.segment or None, self.entity or None, end_of_day(self.as_of)
        )

    def params(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "segment": self.segment,
            "entity": self.entity,
            "as_of": self.as_of.isoformat() if self.as_of else "",
        }


def _assignment_query(
    request: Request[Any, Any, Any], schemes: list[SegmentationScheme]
) -> AssignmentQuery:
    scheme = _q(request, "scheme", 40)
    if not scheme and schemes:
        scheme = schemes[0].code
    return AssignmentQuery(
        scheme,
        _q(request, "segment", 20),
        _q(request, "entity", 201),
        parse_day(_q(request, "as_of", 10)),
        _q(request, "after", 201) or None,
        _limit(_q(request, "limit")),
    )


@get(
    "/segments/assignments",
    guards=[requires(READ)],
    operation_id="assignmentsPage",
)
async def assignments_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Assignments of a scheme in force at a date, filtered; CSV / XLSX / ERP write-back."""
    async with tenant_session(principal.tenant) as s:
        schemes = await list_schemes(s)
        error = None
        try:
            query = _assignment_query(request, schemes)
        except PageInputError as exc:
            error = str(exc)
            query = AssignmentQuery(_q(request, "scheme", 40), "", "", None, None, 100)
        rows: list[dict[str, Any]] = []
        next_cursor = None
        counts: dict[str, int] = {}
        if query.scheme:
            page = await queries.assignments(
                s,
                scheme=query.scheme,
                segment=query.segment or None,
                entity=query.entity or None,
                as_of=end_of_day(query.as_of),
                after=query.after,
                limit=query.limit,
            )
            rows, next_cursor = page.rows, page.next_cursor
            counts = await queries.segment_counts(s, query.scheme, end_of_day(query.as_of))
        catalogue = (await queries.segment_catalogue(s, [query.scheme])).get(query.scheme, [])
        profiles = await list_profiles(s)
    entity = next((r.entity for r in schemes if r.code == query.scheme), None)
    wanted = export.PROFILE_ENTITY.get(entity or "")
    path = f"{_base(principal.tenant)}/assignments"
    params = query.params()
    context = _context(
        request,
        principal,
        schemes=schemes,
        query=query,
        form=params,
        rows=rows,
        counts=counts,
        catalogue=catalogue,
        colours={seg.code: seg.colour for seg in catalogue},
        entity=entity,
        profiles=[p for p in profiles if p.entity == wanted],
        error=error,
        next_url=_url(path, {**params, "after": next_cursor}) if next_cursor else None,
        first_url=_url(path, params) if query.after else None,
        csv_url=_url(f"{path}.csv", params),
        xlsx_url=_url(f"{path}.xlsx", params),
        writeback_path=f"{_base(principal.tenant)}/writeback",
    )
    return Template(
        "segmentation/assignments.html", context=context, status_code=422 if error else 200
    )


async def _export_query(request: Request[Any, Any, Any], session: AsyncSession) -> AssignmentQuery:
    query = _assignment_query(request, [])
    if not query.scheme:
        raise PageInputError("scheme: choose a scheme")
    await get_scheme(session, query.scheme)  # 404 for an unknown scheme
    return query


def _filename(scheme: str, suffix: str) -> str:
    safe = re.sub(r"[^a-z0-9_]", "_", scheme)
    return f"segments-{safe}-{datetime.now(UTC):%Y%m%d}.{suffix}"


async def _audit_export(
    request: Request[Any, Any, Any], principal: Principal, kind: str, params: dict[str, Any]
) -> None:
    async with tenant_session(principal.tenant) as s:
        await record_by(
            s,
            actor_of(request, principal),
            "segments.export",
            "scheme",
            params.get("scheme"),
            after={"format": kind, **params},
        )


async def csv_response(request: Request[Any, Any, Any], principal: Principal) -> Stream:
    """Stream the filtered assignments as CSV (shared by the page and the API)."""
    async with tenant_session(principal.tenant) as s:
        query = await _export_query(request, s)
    await _audit_export(request, principal, "csv", query.params())
    tenant = principal.tenant

    async def chunks() -> Any:
        async with tenant_session(tenant) as session:
            async for chunk in export.assignments_csv(session, query.where()):
                yield chunk

    return Stream(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(query.scheme, "csv")}"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def xlsx_response(request: Request[Any, Any, Any], principal: Principal) -> Response[bytes]:
    async with tenant_session(principal.tenant) as s:
        query = await _export_query(request, s)
        body = await export.assignments_xlsx(s, query.where())
    await _audit_export(request, principal, "xlsx", query.params())
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{_filename(query.scheme, "xlsx")}"'
        },
    )


async def writeback_response(
    request: Request[Any, Any, Any], principal: Principal
) -> Response[bytes]:
    scheme_code = _q(request, "scheme", 40)
    if not scheme_code:
        raise PageInputError("scheme: choose a scheme")
    column = _q(request, "segment_column", 60) or None
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, scheme_code)
        entity = export.profile_entity(row.entity)
        try:
            profile = await get_profile(s, _q(request, "profile", 100) or None, entity)
        except ProfileError as exc:
            raise PageInputError(f"profile: {exc}") from None
        body = await export.writeback_file(s, scheme_code, row.entity, profile, column)
    await _audit_export(
        request, principal, "writeback", {"scheme": scheme_code, "profile": profile.name}
    )
    name = _filename(scheme_code, "csv").replace("segments-", "writeback-")
    return Response(
        body,
        media_type=f"text/csv; charset={profile.options.encoding}",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@get(
    "/segments/assignments.csv",
    guards=[requires(READ)],
    operation_id="assignmentsCsvPage",
)
async def assignments_csv_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Stream:
    return await csv_response(request, principal)


@get(
    "/segments/assignments.xlsx",
    guards=[requires(READ)],
    operation_id="assignmentsXlsxPage",
)
async def assignments_xlsx_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[bytes]:
    return await xlsx_response(request, principal)


@get(
    "/segments/writeback",
    guards=[requires(READ)],
    operation_id="writebackPage",
)
async def writeback_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[bytes]:
    return await writeback_response(request, principal)


# ---------------------------------------------------------------------------------------------
# Sales vs operations, and the timeline


@get(
    "/segments/conflicts",
    guards=[requires(READ)],
    operation_id="segmentConflictsPage",
)
async def conflicts_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Where the sales view (strategic, CRM tier) and the segment disagree."""
    kind = _q(request, "kind", 20)
    kind = kind if kind in queries.CONFLICT_KINDS else ""
    async with tenant_session(principal.tenant) as s:
        schemes = [r for r in await list_schemes(s) if r.entity == "customer"]
        code = _q(request, "scheme", 40) or (schemes[0].code if schemes else "")
        found = None
        if code:
            found = await queries.conflicts(
                s,
                code,
                kind=kind or None,
                after=_q(request, "after", 201) or None,
                limit=_limit(_q(request, "limit")),
            )
    path = f"{_base(principal.tenant)}/conflicts"
    context = _context(
        request,
        principal,
        schemes=schemes,
        scheme=code,
        kind=kind,
        found=found,
        colours={seg.code: seg.colour for seg in found.segments} if found else {},
        top_tiers=sorted(queries.TOP_CRM_TIERS),
        low_tiers=sorted(queries.LOW_CRM_TIERS),
        next_url=_url(path, {"scheme": code, "kind": kind, "after": found.next_cursor})
        if found and found.next_cursor
        else None,
    )
    return Template("segmentation/conflicts.html", context=context)


@get(
    "/segments/timeline",
    guards=[requires(READ)],
    operation_id="segmentTimelinePage",
)
async def timeline_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Every segment a customer (``?customer=``) or product (``?sku=``) has had; htmx asks for
    the fragment only (the customer and product pages load it)."""
    customer = _q(request, "customer", 100)
    sku = _q(request, "sku", 100)
    async with tenant_session(principal.tenant) as s:
        rows = await queries.timeline(s, customer_code=customer or None, sku=sku or None)
        codes = sorted({r["scheme_code"] for r in rows})
        catalogue = await queries.segment_catalogue(s, codes)
    colours = {(c, seg.code): seg.colour for c, segs in catalogue.items() for seg in segs}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["scheme_code"], []).append(row)
    fragment = request.headers.get("hx-request") == "true"
    context = _context(
        request,
        principal,
        customer=customer,
        sku=sku,
        groups=groups,
        colours=colours,
        fragment=fragment,
    )
    template = "segmentation/_timeline.html" if fragment else "segmentation/timeline.html"
    return Template(template, context=context, headers={"Vary": "HX-Request"})


ROUTES = [
    StaffPages(
        segments_page,
        create_scheme_form,
        scheme_page,
        scheme_submit,
        start_run,
        run_job_page,
        run_page,
        moves_page,
        decide_moves_form,
        assignments_page,
        assignments_csv_page,
        assignments_xlsx_page,
        writeback_page,
        conflicts_page,
        timeline_page,
    )
]
