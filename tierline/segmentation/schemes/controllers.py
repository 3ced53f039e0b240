"""Schemes: the list and the editor pages, starting a run from the editor, and the scheme API.

Pages (``/t/{tenant}/segments``, ``/segments/schemes/{code}``): create a scheme from a template,
then one editor form with four buttons (save, validate, dry run, publish) and a run button; the
draft is kept even when invalid and shown with each problem next to its line. API
(``/api/v1/schemes``): the same lifecycle; an invalid document is 422 with ``errors`` (``path``,
``line``, ``message``), an unknown scheme 404, a refused change 409. Permissions: see
:mod:`tierline.segmentation.web`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from tierline.platform.access import requires
from tierline.platform.errors import problem_response
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.assignments.queries import segment_counts
from tierline.segmentation.models import SchemeVersion
from tierline.segmentation.runs.queries import list_runs
from tierline.segmentation.runs.service import Preview, RunRefused, dry_run, submit_run
from tierline.segmentation.schemes.document import (
    ParsedScheme,
    Scheme,
    SchemeInvalid,
    SchemeIssue,
    in_freeze,
    load_template,
    scheme_json_schema,
    template_names,
)
from tierline.segmentation.schemes.schemas import (
    DraftSavedOut,
    DryRunIn,
    JsonSchemaOut,
    PreviewOut,
    PublishedOut,
    PublishIn,
    SchemeCreatedOut,
    SchemeCreateIn,
    SchemeIssueOut,
    SchemeOut,
    SchemeSummaryOut,
    SchemeTextIn,
    VersionOut,
)
from tierline.segmentation.schemes.store import (
    SchemeRefused,
    create_scheme,
    get_scheme,
    list_schemes,
    parse_off_loop,
    publish,
    published,
    save_draft,
    scheme_summary,
    segment_catalogue,
    versions_of,
)
from tierline.segmentation.web import (
    READ,
    RUN,
    WRITE,
    BodyInvalid,
    PageInputError,
    base_path,
    page_context,
    parse_day,
    query_text,
)

MAX_TEXT = 200_000  # characters of a scheme document


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
    return await _schemes_template(
        request, principal, error=query_text(request, "error", 500) or None
    )


async def _schemes_template(
    request: Request[Any, Any, Any],
    principal: Principal,
    error: str | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        schemes = await list_schemes(s)
        runs = await list_runs(s, limit=10)
        counts = {row.code: await segment_counts(s, row.code) for row in schemes}
        catalogue = await segment_catalogue(s)
    context = page_context(
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


@get(
    "/segments/schemes",
    guards=[requires(READ)],
    operation_id="schemesListRedirect",
)
async def schemes_list(principal: NamedDependency[Principal]) -> Redirect:
    """The schemes are listed on the segments page (this path only takes the creation form)."""
    return Redirect(base_path(principal.tenant), status_code=303)


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
    target = f"{base_path(principal.tenant)}/schemes/{quote(parsed.scheme.code)}?created=1"
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
        runs = await list_runs(s, scheme_code=code, limit=10)
        catalogue = await segment_catalogue(s, [code])
    state = state or EditorState(row.draft_text or "")
    if state.parsed is None and not state.errors and state.text:
        try:  # a stored draft may be large or hostile: parsed off the event loop, bounded
            state.parsed = (await parse_off_loop(state.text)).scheme
        except SchemeInvalid:
            state.parsed = None
    shown = state.parsed or in_force
    colours = {seg.code: seg.colour for seg in shown.segments} if shown else {}
    names = {seg.code: seg.name for seg in shown.segments} if shown else {}
    today = datetime.now(UTC).date()
    context = page_context(
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
        parsed = await parse_off_loop(text)
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
            parsed = await parse_off_loop(text)
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
    base = f"{base_path(principal.tenant)}/schemes/{quote(code)}"
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
# Starting a run from the editor


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
    except (SchemeRefused, PageInputError, RunRefused) as exc:
        state = None
        async with tenant_session(principal.tenant) as s:
            state = EditorState((await get_scheme(s, code)).draft_text or "", alert=str(exc))
        return await _editor_template(request, principal, code, state, exc.status_code)  # type: ignore[return-value]
    target = f"{base_path(principal.tenant)}/jobs/{quote(str(job['id']), safe='')}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The scheme API


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


def _checked_text(text: str | None, name: str = "text") -> str | None:
    if text is not None and len(text) > MAX_TEXT:
        raise BodyInvalid(f"{name}: at most {MAX_TEXT:,} characters")
    return text


def _issues(issues: list[SchemeIssue]) -> list[SchemeIssueOut]:
    return [SchemeIssueOut(i.path, i.line, i.message) for i in issues]


def _summary(row: Any) -> SchemeSummaryOut:
    return msgspec.convert(scheme_summary(row), SchemeSummaryOut)


def _version_out(v: SchemeVersion) -> VersionOut:
    return VersionOut(
        version=v.version,
        content_hash=v.content_hash,
        published_at=v.published_at,
        published_by=v.published_by,
        note=v.note,
    )


# ---------------------------------------------------------------------------------------------
# Schemes

DOCUMENT = {"text_body": "text"}  # a document may come as text/yaml too (request_body)


@get(
    "/schemes",
    guards=[requires(READ)],
    operation_id="listSchemes",
    dependencies=PAGED,
)
async def api_list_schemes(
    principal: NamedDependency[Principal], page: PageRequest
) -> Page[SchemeSummaryOut]:
    """Schemes of the caller's tenant by code, with the version in force and run times."""
    async with tenant_session(principal.tenant) as s:
        rows = await list_schemes(s)
    ordered = sorted((_summary(r) for r in rows), key=lambda r: r.code)
    return page.slice(ordered, lambda r: (r.code,))


@get(
    "/schemes/schema",
    guards=[requires(READ)],
    operation_id="schemeJsonSchema",
)
async def api_scheme_schema() -> Response[JsonSchemaOut]:
    """The JSON Schema (draft 2020-12) of a scheme document."""
    return Response(scheme_json_schema())  # type: ignore[arg-type]


@get(
    "/schemes/{code:str}",
    guards=[requires(READ)],
    operation_id="getScheme",
)
async def api_get_scheme(principal: NamedDependency[Principal], code: FromPath[str]) -> SchemeOut:
    """A scheme: its draft text and every published version."""
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, code)
        versions = await versions_of(s, code)
    return SchemeOut(
        **msgspec.structs.asdict(_summary(row)),
        draft=row.draft_text,
        versions=[_version_out(v) for v in versions],
    )


@post(
    "/schemes",
    guards=[requires(WRITE)],
    operation_id="createScheme",
    status_code=HTTP_201_CREATED,
    opt=DOCUMENT,
)
async def api_create_scheme(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: SchemeCreateIn
) -> Response[SchemeCreatedOut]:
    """Create a scheme from a document (JSON ``{"text"}``, or the text as ``text/yaml``) or
    from a template (``{"template": name, "code": code}``). An invalid document is a 422
    problem listing every issue (``path``, ``line``, ``message``)."""
    if data.template is not None:
        text = template_text(data.template[:100], (data.code or "").strip() or None)
    elif data.text is not None:
        text = _checked_text(data.text) or ""
    else:
        raise BodyInvalid('text: send the document as {"text": "..."} or as text/yaml')
    try:
        async with tenant_session(principal.tenant) as s:
            parsed = await create_scheme(s, text, actor_of(request, principal))
            row = await get_scheme(s, parsed.scheme.code)
            summary = _summary(row)
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    created = SchemeCreatedOut(**msgspec.structs.asdict(summary), warnings=_issues(parsed.warnings))
    return Response(created, status_code=HTTP_201_CREATED)


@put(
    "/schemes/{code:str}/draft",
    guards=[requires(WRITE)],
    operation_id="saveSchemeDraft",
    opt=DOCUMENT,
)
async def api_save_draft(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
    data: SchemeTextIn,
) -> DraftSavedOut:
    """Keep the document as the draft, valid or not; the answer says what validation found."""
    text = _checked_text(data.text) or ""
    async with tenant_session(principal.tenant) as s:
        verdict = await save_draft(s, code, text, actor_of(request, principal))
    if isinstance(verdict, SchemeInvalid):
        return DraftSavedOut(saved=True, valid=False, errors=_issues(verdict.errors), warnings=[])
    return DraftSavedOut(saved=True, valid=True, errors=[], warnings=_issues(verdict.warnings))


@post(
    "/schemes/{code:str}/publish",
    guards=[requires(WRITE)],
    operation_id="publishScheme",
    status_code=HTTP_201_CREATED,
)
async def api_publish(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    code: FromPath[str],
    data: PublishIn | None = None,
) -> Response[PublishedOut]:
    """Publish the draft as the next version, with an optional ``note``; an invalid draft is
    a 422 problem listing its issues."""
    note = ((data.note if data else None) or "").strip()[:2000] or None
    try:
        async with tenant_session(principal.tenant) as s:
            version = await publish(s, code, actor_of(request, principal), note)
            out = _version_out(version)
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    published = PublishedOut(**msgspec.structs.asdict(out), scheme=code)
    return Response(published, status_code=HTTP_201_CREATED)


@post(
    "/schemes/{target:str}",
    guards=[requires(WRITE)],
    operation_id="dryRunScheme",
    status_code=200,
)
async def api_dry_run(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    target: FromPath[str],
    data: DryRunIn | None = None,
) -> Response[PreviewOut]:
    """``POST /api/v1/schemes/{code}:dry-run``: classify now with the draft (or ``text``, as
    of ``as_of``) and report counts, samples and moves; writes nothing."""
    code, _, verb = target.partition(":")
    if verb != "dry-run":
        raise NotFoundException()
    text = _checked_text(data.text if data else None)
    as_of = _as_of(data.as_of if data else None)
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, code)
    try:
        parsed: ParsedScheme = await parse_off_loop(
            text if text is not None else row.draft_text or ""
        )
    except SchemeInvalid as exc:
        return invalid_response(request, exc)
    if parsed.scheme.code != code:
        return invalid_response(
            request, SchemeInvalid([SchemeIssue("code", f"the code of this scheme is '{code}'")])
        )
    preview = await dry_run(state.runtime, principal.tenant, parsed.scheme, as_of)
    return Response(
        PreviewOut(
            scheme=code,
            total=preview.total,
            counts=preview.counts,
            samples=preview.samples,
            moves=preview.moves,
            warnings=preview.warnings,
            defaults_used=preview.defaults_used,
            warnings_scheme=_issues(parsed.warnings),
        )
    )


def _as_of(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise BodyInvalid("as_of: a date like 2026-03-31")
    return parse_day(raw)


ROUTES = [
    StaffPages(
        segments_page, schemes_list, create_scheme_form, scheme_page, scheme_submit, start_run
    ),
    Api(
        api_list_schemes,
        api_scheme_schema,
        api_get_scheme,
        api_create_scheme,
        api_save_draft,
        api_publish,
        api_dry_run,
    ),
]
