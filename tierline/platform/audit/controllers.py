"""The audit log over HTTP: the staff page, its CSV download and the JSON API.

The tenant whose log is read is always the signed-in principal's. Page URLs also name a
tenant; a principal of tenant A asking for ``/t/B/audit`` gets 404, as if B did not exist. The
sign-in layer refuses that too; the check is repeated here so these pages stay safe whatever
that layer does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream, Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from tierline.platform.access import requires
from tierline.platform.audit.export import (
    compact_json,
    export_filename,
    iso_utc,
    record_export,
    stream_export,
)
from tierline.platform.audit.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AuditFilters,
    AuditPage,
    AuditRecord,
    InvalidAuditQuery,
    list_entries,
    parse_filters,
    parse_page,
)
from tierline.platform.audit.service import VerifyResult, verify_chain
from tierline.platform.db import utcnow
from tierline.platform.downloads import csv_stream
from tierline.platform.identity.principal import Principal
from tierline.platform.observability import current_request_id
from tierline.platform.pagination import (
    MAX_CURSOR_CHARS,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

PAGE_SIZES = (25, DEFAULT_PAGE_SIZE, 100, MAX_PAGE_SIZE)

RawQuery = dict[str, str | None]


async def provide_audit_paging(
    before: Annotated[
        str | None, QueryParameter(description="Cursor: entries older than this seq.")
    ] = None,
    after: Annotated[
        str | None, QueryParameter(description="Cursor: entries newer than this seq.")
    ] = None,
    limit: Annotated[
        str | None, QueryParameter(description=f"Page size, 1-{MAX_PAGE_SIZE} (default 50).")
    ] = None,
) -> RawQuery:
    """The page's paging: older (``before``) or newer (``after``) than an entry."""
    return {"before": before, "after": after, "limit": limit}


async def provide_api_paging(
    limit: Annotated[
        int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Entries per page.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        QueryParameter(
            max_length=MAX_CURSOR_CHARS, description="The previous page's ``next_cursor``."
        ),
    ] = None,
) -> RawQuery:
    """The API's paging (``pagination``'s convention): newest first, ``cursor`` continues."""
    position = decode_cursor(cursor) if cursor else None
    if position is not None and not isinstance(position[0], int):
        raise InvalidCursor("cursor: not a cursor this API returned")
    return {"before": str(position[0]) if position else None, "after": None, "limit": str(limit)}


async def provide_audit_query(
    audit_paging: NamedDependency[RawQuery],
    actor: Annotated[
        str | None, QueryParameter(description="Actor (e-mail or client) contains, any case.")
    ] = None,
    action: Annotated[
        str | None, QueryParameter(description="Action, exact; end with * for a prefix: user.*")
    ] = None,
    object_type: Annotated[str | None, QueryParameter(description="Object type, exact.")] = None,
    object_id: Annotated[str | None, QueryParameter(description="Object id, exact.")] = None,
    from_: Annotated[
        str | None,
        QueryParameter(name="from", description="From (inclusive): ISO date or date-time, UTC."),
    ] = None,
    to: Annotated[
        str | None, QueryParameter(description="To (inclusive): ISO date (whole day) or date-time.")
    ] = None,
) -> RawQuery:
    """The raw query values; parsed by ``queries`` so every error names its field."""
    return {
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "from": from_,
        "to": to,
        **audit_paging,
    }


AUDIT_QUERY = {
    "audit_paging": Provide(provide_audit_paging),
    "audit_query": Provide(provide_audit_query),
}
AUDIT_API_QUERY = {
    "audit_paging": Provide(provide_api_paging),
    "audit_query": Provide(provide_audit_query),
}


def _shown_time(at: datetime) -> str:
    """To the second, in UTC: the page's column says UTC whatever the server's zone."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


# ---------------------------------------------------------------------------------------------
# The page


def _url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _paging_links(
    path: str, params: dict[str, str], page: AuditPage, limit: int, paged: bool
) -> dict[str, str | None]:
    keep = dict(params)
    if limit != DEFAULT_PAGE_SIZE:
        keep["limit"] = str(limit)
    return {
        "newer_url": _url(path, {**keep, "after": str(page.newer)}) if page.newer else None,
        "older_url": _url(path, {**keep, "before": str(page.older)}) if page.older else None,
        "newest_url": _url(path, keep) if paged else None,
    }


def _page_template(
    tenant: TenantRef,
    principal: Principal,
    audit_query: RawQuery,
    *,
    page: AuditPage | None = None,
    filters: AuditFilters | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    verification: VerifyResult | None = None,
    error: InvalidAuditQuery | None = None,
) -> Template:
    path = f"/t/{tenant.slug}/audit"
    # Echo what was typed, even if it did not parse, so the user can correct it.
    form = {k: (v or "").strip() for k, v in audit_query.items()}
    params = filters.params if filters else {}
    context: dict[str, Any] = {
        "tenant": tenant,
        "principal": principal,
        "form": form,
        "page_sizes": PAGE_SIZES,
        "limit": limit,
        "entries": page.entries if page else [],
        "verification": verification,
        "error": error,
        "error_field": error.field if error else None,
        "csv_url": _url(f"/t/{tenant.slug}/audit.csv", params),
        "compact_json": compact_json,
        "iso_utc": iso_utc,
        "shown_time": _shown_time,
        "newer_url": None,
        "older_url": None,
        "newest_url": None,
    }
    if page is not None:
        paged = bool(form.get("before") or form.get("after"))
        context.update(_paging_links(path, params, page, limit, paged))
    status = HTTP_422_UNPROCESSABLE_ENTITY if error else 200
    return Template("audit/log.html", context=context, status_code=status)


@get(
    "/audit",
    guards=[requires("audit:read")],
    dependencies=AUDIT_QUERY,
    operation_id="auditLogPage",
)
async def audit_page(
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    audit_query: NamedDependency[RawQuery],
    verify: FromQuery[str | None] = None,
) -> Template:
    """Filter form, one page of entries, and the chain check when the button asked for it."""
    try:
        filters = parse_filters(audit_query)
        page_request = parse_page(audit_query)
    except InvalidAuditQuery as exc:
        return _page_template(current_tenant, principal, audit_query, error=exc)
    async with tenant_session(current_tenant, state.runtime.databases) as session:
        page = await list_entries(session, filters, page_request)
        # Walks the whole log, so only on request, never on every page view.
        verification = await verify_chain(session) if verify == "1" else None
    return _page_template(
        current_tenant,
        principal,
        audit_query,
        page=page,
        filters=filters,
        limit=page_request.limit,
        verification=verification,
    )


# ---------------------------------------------------------------------------------------------
# The CSV download


@get(
    "/audit.csv",
    guards=[requires("audit:export")],
    dependencies=AUDIT_QUERY,
    operation_id="auditLogCsv",
)
async def audit_csv(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    audit_query: NamedDependency[RawQuery],
) -> Stream:
    """The matching entries as CSV, oldest first; the export is audited before it starts."""
    filters = parse_filters(audit_query)
    databases = state.runtime.databases
    async with tenant_session(current_tenant, databases) as session:
        upto = await record_export(
            session,
            filters,
            actor=principal.display,
            actor_kind=principal.actor_kind,
            request_id=current_request_id(),
            client_ip=_client_ip(request),
        )
    return csv_stream(
        stream_export(current_tenant, filters, upto_seq=upto, databases=databases),
        export_filename(current_tenant, utcnow()),
    )


# ---------------------------------------------------------------------------------------------
# The JSON API


class AuditEntryOut(msgspec.Struct):
    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any
    reason: str | None
    request_id: str | None
    client_ip: str | None
    prev_hash: str  # hex
    hash: str  # hex


class AuditListOut(msgspec.Struct):
    """A page of audit entries, newest first (``next_cursor`` as ``cursor`` for older ones)."""

    items: list[AuditEntryOut]
    next_cursor: str | None


def _entry_out(entry: AuditRecord) -> AuditEntryOut:
    return AuditEntryOut(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        actor_kind=entry.actor_kind,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        before=entry.before,
        after=entry.after,
        reason=entry.reason,
        request_id=entry.request_id,
        client_ip=entry.client_ip,
        prev_hash=entry.prev_hash_hex,
        hash=entry.hash_hex,
    )


@get(
    "/audit",
    guards=[requires("audit:read")],
    dependencies=AUDIT_API_QUERY,
    operation_id="listAuditEntries",
)
async def audit_api(
    state: State,
    current_tenant: NamedDependency[TenantRef],
    audit_query: NamedDependency[RawQuery],
) -> AuditListOut:
    """Audit entries of the caller's tenant, newest first, filtered; each with its hash and
    the previous entry's (the chain ``tierline audit verify`` checks)."""
    tenant = current_tenant
    filters = parse_filters(audit_query)
    page_request = parse_page(audit_query)
    async with tenant_session(tenant, state.runtime.databases) as session:
        page = await list_entries(session, filters, page_request)
    return AuditListOut(
        items=[_entry_out(e) for e in page.entries],
        next_cursor=encode_cursor((page.older,)) if page.older else None,
    )


ROUTES = [StaffPages(audit_page, audit_csv), Api(audit_api)]
