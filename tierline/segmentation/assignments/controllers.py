"""Assignments: the assignments in force, exports and the ERP write-back, the sales vs
operations view and an entity's timeline; their pages and API.

Pages under ``/t/{tenant}/segments`` (the timeline also as an htmx fragment the customer and
product pages load); the API under ``/api/v1/segments``, keyset-paged with ``cursor`` and
``limit``. CSV cells are made formula-safe, every export is audited. Permissions: see
:mod:`tierline.segmentation.web`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import ProfileError, get_profile, list_profiles
from tierline.platform.access import requires
from tierline.platform.api_docs import file_response
from tierline.platform.audit.service import record_by
from tierline.platform.downloads import XLSX, csv_download, csv_stream, file_download
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import (
    MAX_CURSOR_CHARS,
    MAX_LIMIT,
    PAGED,
    PageRequest,
    encode_cursor,
)
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.assignments import export, queries
from tierline.segmentation.assignments.schemas import (
    AssignmentOut,
    AssignmentsOut,
    ConflictsOut,
    TimelineEntryOut,
    TimelineOut,
)
from tierline.segmentation.models import SegmentationScheme
from tierline.segmentation.schemes.store import get_scheme, list_schemes, segment_catalogue
from tierline.segmentation.web import (
    READ,
    BodyInvalid,
    PageInputError,
    base_path,
    end_of_day,
    page_context,
    page_limit,
    parse_day,
    query_text,
    with_query,
)

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
    scheme = query_text(request, "scheme", 40)
    if not scheme and schemes:
        scheme = schemes[0].code
    return AssignmentQuery(
        scheme,
        query_text(request, "segment", 20),
        query_text(request, "entity", 201),
        parse_day(query_text(request, "as_of", 10)),
        query_text(request, "after", 201) or None,
        page_limit(query_text(request, "limit")),
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
            query = AssignmentQuery(query_text(request, "scheme", 40), "", "", None, None, 100)
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
        catalogue = (await segment_catalogue(s, [query.scheme])).get(query.scheme, [])
        profiles = await list_profiles(s)
    entity = next((r.entity for r in schemes if r.code == query.scheme), None)
    wanted = export.PROFILE_ENTITY.get(entity or "")
    path = f"{base_path(principal.tenant)}/assignments"
    params = query.params()
    context = page_context(
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
        next_url=with_query(path, {**params, "after": next_cursor}) if next_cursor else None,
        first_url=with_query(path, params) if query.after else None,
        csv_url=with_query(f"{path}.csv", params),
        xlsx_url=with_query(f"{path}.xlsx", params),
        writeback_path=f"{base_path(principal.tenant)}/writeback",
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

    return csv_stream(chunks(), _filename(query.scheme, "csv"))


async def xlsx_response(request: Request[Any, Any, Any], principal: Principal) -> Response[bytes]:
    async with tenant_session(principal.tenant) as s:
        query = await _export_query(request, s)
        body = await export.assignments_xlsx(s, query.where())
    await _audit_export(request, principal, "xlsx", query.params())
    return file_download(body, _filename(query.scheme, "xlsx"), XLSX)


async def writeback_response(
    request: Request[Any, Any, Any], principal: Principal
) -> Response[bytes]:
    scheme_code = query_text(request, "scheme", 40)
    if not scheme_code:
        raise PageInputError("scheme: choose a scheme")
    column = query_text(request, "segment_column", 60) or None
    async with tenant_session(principal.tenant) as s:
        row = await get_scheme(s, scheme_code)
        entity = export.profile_entity(row.entity)
        try:
            profile = await get_profile(s, query_text(request, "profile", 100) or None, entity)
        except ProfileError as exc:
            raise PageInputError(f"profile: {exc}") from None
        body = await export.writeback_file(s, scheme_code, row.entity, profile, column)
    await _audit_export(
        request, principal, "writeback", {"scheme": scheme_code, "profile": profile.name}
    )
    name = _filename(scheme_code, "csv").replace("segments-", "writeback-")
    return csv_download(body, name, encoding=profile.options.encoding)


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
) -> Response[bytes] | Redirect:
    """The ERP write-back file; opened without a scheme (a bookmark, the address typed), it
    leads to the assignments page, where the scheme and profile are chosen."""
    if not query_text(request, "scheme", 40):
        return Redirect(f"{base_path(principal.tenant)}/assignments", status_code=303)
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
    kind = query_text(request, "kind", 20)
    kind = kind if kind in queries.CONFLICT_KINDS else ""
    async with tenant_session(principal.tenant) as s:
        schemes = [r for r in await list_schemes(s) if r.entity == "customer"]
        code = query_text(request, "scheme", 40) or (schemes[0].code if schemes else "")
        found = None
        if code:
            found = await queries.conflicts(
                s,
                code,
                kind=kind or None,
                after=query_text(request, "after", 201) or None,
                limit=page_limit(query_text(request, "limit")),
            )
    path = f"{base_path(principal.tenant)}/conflicts"
    context = page_context(
        request,
        principal,
        schemes=schemes,
        scheme=code,
        kind=kind,
        found=found,
        colours={seg.code: seg.colour for seg in found.segments} if found else {},
        top_tiers=sorted(queries.TOP_CRM_TIERS),
        low_tiers=sorted(queries.LOW_CRM_TIERS),
        next_url=with_query(path, {"scheme": code, "kind": kind, "after": found.next_cursor})
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
    customer = query_text(request, "customer", 100)
    sku = query_text(request, "sku", 100)
    async with tenant_session(principal.tenant) as s:
        rows = await queries.timeline(s, customer_code=customer or None, sku=sku or None)
        codes = sorted({r["scheme_code"] for r in rows})
        catalogue = await segment_catalogue(s, codes)
    colours = {(c, seg.code): seg.colour for c, segs in catalogue.items() for seg in segs}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["scheme_code"], []).append(row)
    fragment = request.headers.get("hx-request") == "true"
    context = page_context(
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


# ---------------------------------------------------------------------------------------------
# The assignments API


SchemeQuery = Annotated[str | None, Parameter(max_length=40, description="The scheme's code.")]
AsOfQuery = Annotated[
    str | None,
    Parameter(max_length=10, description="In force at the end of this day (UTC); default now."),
]
SegmentQuery = Annotated[str | None, Parameter(max_length=20, description="Only this segment.")]
EntityQuery = Annotated[
    str | None, Parameter(max_length=201, description="An entity key, exactly or as a prefix.")
]
LIMIT = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Rows per page.")]
CURSOR = Annotated[
    str | None,
    Parameter(max_length=MAX_CURSOR_CHARS, description="The previous page's ``next_cursor``."),
]


def _after(cursor: str | None) -> str | None:
    """The entity key an API cursor stands for (``pagination``'s opaque cursors)."""
    position = PageRequest(cursor=cursor).position() if cursor else None
    return str(position[0]) if position else None


def _next(entity_key: str | None) -> str | None:
    return encode_cursor((entity_key,)) if entity_key else None


@get(
    "/segments/assignments",
    guards=[requires(READ)],
    operation_id="listSegmentAssignments",
)
async def api_assignments(
    principal: NamedDependency[Principal],
    scheme: SchemeQuery = None,
    as_of: AsOfQuery = None,
    segment: SegmentQuery = None,
    entity: EntityQuery = None,
    cursor: CURSOR = None,
    limit: LIMIT = 100,
) -> AssignmentsOut:
    """Assignments of ``scheme`` in force at ``as_of``, by entity key, filtered by
    ``segment`` and ``entity`` (a key or its prefix); pages of ``limit`` (``cursor``)."""
    code = (scheme or "").strip()
    if not code:
        raise BodyInvalid("scheme: choose a scheme")
    at = end_of_day(parse_day((as_of or "").strip()))
    async with tenant_session(principal.tenant) as s:
        await get_scheme(s, code)
        page = await queries.assignments(
            s,
            scheme=code,
            segment=(segment or "").strip() or None,
            entity=(entity or "").strip() or None,
            as_of=at,
            after=_after(cursor),
            limit=limit,
        )
    items = [
        msgspec.convert({**r, "run_id": str(r["run_id"]) if r["run_id"] else None}, AssignmentOut)
        for r in page.rows
    ]
    return AssignmentsOut(scheme=code, as_of=at, items=items, next_cursor=_next(page.next_cursor))


@get(
    "/segments/assignments.csv",
    guards=[requires(READ)],
    operation_id="exportSegmentAssignmentsCsv",
    responses=file_response("text/csv", "The assignments, one row each (UTF-8 with a BOM)."),
)
async def api_assignments_csv(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: SchemeQuery = None,
    as_of: AsOfQuery = None,
    segment: SegmentQuery = None,
    entity: EntityQuery = None,
) -> Stream:
    """The filtered assignments as CSV (streamed; formula-like cells quoted)."""
    return await csv_response(request, principal)


@get(
    "/segments/assignments.xlsx",
    guards=[requires(READ)],
    operation_id="exportSegmentAssignmentsXlsx",
    responses=file_response(XLSX, "The assignments as a workbook."),
)
async def api_assignments_xlsx(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: SchemeQuery = None,
    as_of: AsOfQuery = None,
    segment: SegmentQuery = None,
    entity: EntityQuery = None,
) -> Response[bytes]:
    """The filtered assignments as an XLSX workbook."""
    return await xlsx_response(request, principal)


@get(
    "/segments/writeback",
    guards=[requires(READ)],
    operation_id="segmentWriteback",
    responses=file_response("text/csv", "The ERP write-back file, in the profile's encoding."),
)
async def api_writeback(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: SchemeQuery = None,
    profile: Annotated[
        str | None, Parameter(max_length=100, description="The import profile to write for.")
    ] = None,
    segment_column: Annotated[
        str | None, Parameter(max_length=60, description="The ERP column of the segment.")
    ] = None,
) -> Response[bytes]:
    """ERP write-back file: the segments in force, in the columns and encoding of an import
    profile, ready to load back into the ERP."""
    return await writeback_response(request, principal)


@get(
    "/segments/conflicts",
    guards=[requires(READ)],
    operation_id="segmentConflicts",
)
async def api_conflicts(
    principal: NamedDependency[Principal],
    scheme: SchemeQuery = None,
    kind: Annotated[
        str | None,
        Parameter(
            max_length=20,
            description=f"Only this kind: one of {', '.join(queries.CONFLICT_KINDS)}.",
        ),
    ] = None,
    cursor: CURSOR = None,
    limit: LIMIT = 100,
) -> ConflictsOut:
    """Sales view vs segment of a customer scheme: matrix, totals, one page of accounts."""
    code = (scheme or "").strip()
    if not code:
        raise BodyInvalid("scheme: choose a customer scheme")
    chosen = (kind or "").strip() or None
    if chosen and chosen not in queries.CONFLICT_KINDS:
        raise BodyInvalid(f"kind: one of {', '.join(queries.CONFLICT_KINDS)}")
    async with tenant_session(principal.tenant) as s:
        found = await queries.conflicts(s, code, kind=chosen, after=_after(cursor), limit=limit)
    return ConflictsOut(
        scheme=code,
        top_segment=found.top_segment,
        lower_half=found.lower_half,
        matrix=found.matrix,
        totals=found.totals,
        run_id=str(found.run_id) if found.run_id else None,
        items=found.rows,
        next_cursor=_next(found.next_cursor),
    )


@get(
    "/segments/timeline",
    guards=[requires(READ)],
    operation_id="segmentTimeline",
    dependencies=PAGED,
)
async def api_timeline(
    principal: NamedDependency[Principal],
    page: PageRequest,
    customer: Annotated[str | None, Parameter(max_length=100, description="A customer.")] = None,
    sku: Annotated[str | None, Parameter(max_length=100, description="A product's SKU.")] = None,
) -> TimelineOut:
    """Every assignment of a ``customer`` or a ``sku`` in every scheme."""
    customer, sku = (customer or "").strip(), (sku or "").strip()
    if not customer and not sku:
        raise BodyInvalid("customer or sku: name the entity")
    async with tenant_session(principal.tenant) as s:
        rows = await queries.timeline(s, customer_code=customer or None, sku=sku or None)
    entries = [
        msgspec.convert(
            {**r, "run_id": str(r["run_id"]) if r["run_id"] else None}, TimelineEntryOut
        )
        for r in rows
    ]
    found = page.slice(sorted(entries, key=_timeline_position), _timeline_position)
    return TimelineOut(found.items, found.next_cursor)


def _timeline_position(e: TimelineEntryOut) -> tuple[str, ...]:
    """The timeline's order (scheme, entity, start), made unique by how the row came about."""
    return (e.scheme_code, e.entity_key, e.valid_from.isoformat(), e.source, e.segment)


ROUTES = [
    StaffPages(
        assignments_page,
        assignments_csv_page,
        assignments_xlsx_page,
        writeback_page,
        conflicts_page,
        timeline_page,
    ),
    Api(
        api_assignments,
        api_assignments_csv,
        api_assignments_xlsx,
        api_writeback,
        api_conflicts,
        api_timeline,
    ),
]
