"""ERP reconciliation: the page (rows by money at stake), creating one from the policy run in
force, submitting its change set to the approval queue, the write-back file, CSV export, and
the JSON twins under ``/api/v1/inventory/reconciliations``.

Reading needs ``inventory:read``; reconciling and submitting ``inventory:write``; the
decision is the approval queue's (``inventory:approve``). Money at stake is shown to readers
holding ``margin:read`` and masked for everyone else. Another tenant's reconciliation is 404.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from tierline.inventory.reconciliation import service
from tierline.inventory.reconciliation.compare import MISMATCH_REASONS, Mismatch, mismatch_names
from tierline.inventory.reconciliation.models import ErpReconciliation
from tierline.inventory.reconciliation.schemas import (
    ReconcileIn,
    ReconciliationOut,
    ReconciliationPageOut,
    ReconciliationRowOut,
    SubmitIn,
)
from tierline.masterdata.service import ProfileError, get_profile
from tierline.platform.access import requires
from tierline.platform.downloads import csv_download
from tierline.platform.encryption import MASKED, FieldCodec
from tierline.platform.errors import DomainError
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pages import fmt_number, fmt_time
from tierline.platform.pagination import PAGED, InvalidCursor, Page, PageRequest, Position
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ, WRITE, MARGIN = "inventory:read", "inventory:write", "margin:read"
TAGS = ["inventory"]
PAGE_SIZE, MAX_LIMIT = 50, 500
DEFAULT_PROFILE = "sap_mrp_parameters"


class ReconciliationQueued(msgspec.Struct):
    job: dict[str, Any]
    status_url: str


class InvalidQuery(DomainError):
    status_code = 422
    title = "Invalid query"


def _today() -> date:
    return datetime.now(UTC).date()


async def _codec(state: State, tenant: TenantRef) -> FieldCodec:
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    codec: FieldCodec = await load_codec(tenant, kms_from_settings(state.settings))
    return codec


def _sees_money(principal: Principal) -> bool:
    return MARGIN in principal.permissions


def _int(raw: Any, name: str, default: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidQuery(f"{name}: a whole number") from None
    if not 0 <= value <= high:
        raise InvalidQuery(f"{name}: between 0 and {high:,}")
    return value


def _flag(raw: Any) -> int | None:
    if not raw:
        return None
    try:
        return int(Mismatch[str(raw).upper()])
    except KeyError:
        raise InvalidQuery(
            f"flag: one of {', '.join(m.name.lower() for m in Mismatch if m.name)}"
        ) from None


def _out(r: ErpReconciliation) -> ReconciliationOut:
    return ReconciliationOut(
        id=r.id,
        status=r.status,
        as_of=r.as_of,
        policy_run_id=str(r.policy_run_id) if r.policy_run_id else None,
        counts={k: int(v) for k, v in r.counts.items()},
        created_at=r.created_at,
        created_by=r.created_by,
        submitted_by=r.submitted_by,
        decided_by=r.decided_by,
        decision_reason=r.decision_reason,
    )


def _row_out(row: dict[str, Any], masked: bool) -> ReconciliationRowOut:
    return ReconciliationRowOut(
        sku=row["sku"],
        location_code=row["location_code"],
        segment_code=row["segment_code"],
        policy_type=row["policy_type"],
        erp_mrp_type=row["erp_mrp_type"],
        proposed_mrp_type=row["proposed_mrp_type"],
        base_uom=row["base_uom"],
        erp_uom=row["erp_uom"],
        erp_safety_stock=row["erp_safety_stock"],
        recommended_safety_stock=row["rec_safety_stock"],
        erp_reorder_point=row["erp_reorder_point"],
        recommended_reorder_point=row["rec_reorder_point"],
        erp_lead_time_days=row["erp_lead_time_days"],
        recommended_lead_time_days=row["rec_lead_time_days"],
        proposed_safety_stock=row["proposed_safety_stock"],
        proposed_reorder_point=row["proposed_reorder_point"],
        mismatches=mismatch_names(row["flags"]),
        changed=row["changed"],
        stake_rank=row["stake_rank"],
        value_delta=row["value_delta"],
        masked=masked,
    )


async def _chosen(tenant: TenantRef, raw_id: Any) -> ErpReconciliation | None:
    async with tenant_session(tenant) as s:
        if raw_id in (None, ""):
            return await service.latest(s)
        return await service.find(s, _int(raw_id, "id", 0, 2**62))


# ---------------------------------------------------------------------------------------------
# Pages


@get("/inventory/reconciliation", guards=[requires(READ)], operation_id="reconciliationPage")
async def reconciliation_page(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> Template:
    """The latest reconciliation (or ``?id=``), its rows by money at stake."""
    query = request.query_params
    chosen = await _chosen(principal.tenant, query.get("id"))
    offset = _int(query.get("offset"), "offset", 0, 10**8)
    changed_only = query.get("changed") == "1"
    flag = _flag(query.get("flag"))
    sees = _sees_money(principal)
    page, past = None, []
    async with tenant_session(principal.tenant) as s:
        past = await service.history(s)
        if chosen is not None:
            codec = await _codec(state, principal.tenant) if sees else None
            page = await service.rows_page(
                s, chosen.id, codec, offset=offset, limit=PAGE_SIZE,
                changed_only=changed_only, flag=flag,
            )  # fmt: skip
    context = {
        "tenant": principal.tenant,
        "principal": principal,
        "chosen": chosen,
        "page": page,
        "past": past,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "changed_only": changed_only,
        "flag": query.get("flag") or "",
        "mismatches": [(m.name.lower(), MISMATCH_REASONS[m]) for m in Mismatch if m.name],
        "mismatch_names": mismatch_names,
        "sees_money": sees,
        "masked": MASKED,
        "can_write": WRITE in principal.permissions,
        "notice": query.get("done"),
        "queued": query.get("queued"),
        "fmt_number": fmt_number,
        "fmt_time": fmt_time,
    }
    return Template("inventory/reconciliation.html", context=context)


@post("/inventory/reconciliation", guards=[requires(WRITE)], operation_id="reconcileWithErp")
async def reconcile_page(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> Response[Any]:
    """Queue a reconciliation of the policy run in force with the ERP's parameters."""
    job = await service.submit_reconciliation(
        state.runtime, principal.tenant, actor_of(request, principal), _today()
    )
    target = f"/t/{principal.tenant.slug}/inventory/reconciliation?queued={quote(str(job['id']))}"
    return Redirect(target, status_code=303)


@post(
    "/inventory/reconciliation/{reconciliation_id:int}/submit",
    guards=[requires(WRITE)],
    operation_id="submitReconciliationPage",
)
async def submit_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    reconciliation_id: FromPath[int],
) -> Response[Any]:
    """Send the change set to the approval queue."""
    async with tenant_session(principal.tenant) as s:
        await service.submit(s, reconciliation_id, actor_of(request, principal))
    target = (
        f"/t/{principal.tenant.slug}/inventory/reconciliation?id={reconciliation_id}&done=submitted"
    )
    return Redirect(target, status_code=303)


async def _writeback(
    request: Request[Any, Any, Any], principal: Principal, reconciliation_id: int
) -> Response[bytes]:
    name = str(request.query_params.get("profile") or DEFAULT_PROFILE)[:100]
    async with tenant_session(principal.tenant) as s:
        try:
            profile = await get_profile(s, name, "erp_parameters")
        except ProfileError as exc:
            raise InvalidQuery(f"profile: {exc}") from None
        body = await service.writeback(s, reconciliation_id, profile, actor_of(request, principal))
    filename = f"erp-parameters-{principal.tenant.slug}-{reconciliation_id}.csv"
    return csv_download(body, filename, encoding=profile.options.encoding)


@get(
    "/inventory/reconciliation/{reconciliation_id:int}/writeback",
    guards=[requires(READ)],
    operation_id="reconciliationWritebackPage",
)
async def writeback_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    reconciliation_id: FromPath[int],
) -> Response[bytes]:
    """The approved change set as the ERP's upload file (``?profile=``, SAP MARC default)."""
    return await _writeback(request, principal, reconciliation_id)


@get(
    "/inventory/reconciliation/{reconciliation_id:int}/export.csv",
    guards=[requires(READ)],
    operation_id="reconciliationExport",
)
async def export_csv(
    state: State, principal: NamedDependency[Principal], reconciliation_id: FromPath[int]
) -> Response[bytes]:
    """Every row of a reconciliation as spreadsheet CSV (money masked without margin:read)."""
    import csv

    from tierline.platform.csv_safety import safe_csv_row
    from tierline.platform.downloads import with_bom

    sees = _sees_money(principal)
    async with tenant_session(principal.tenant) as s:
        await service.find(s, reconciliation_id)
        codec = await _codec(state, principal.tenant) if sees else None
        page = await service.rows_page(s, reconciliation_id, codec, limit=10**7)
    out = io.StringIO()
    writer = csv.writer(out)
    head = list(ReconciliationRowOut.__struct_fields__)
    writer.writerow(head)
    for row in page.rows:
        shown = msgspec_dict(_row_out(row, not sees))
        shown["mismatches"] = " ".join(shown["mismatches"])
        writer.writerow(safe_csv_row(shown[c] for c in head))
    filename = f"erp-reconciliation-{principal.tenant.slug}-{reconciliation_id}.csv"
    return csv_download(with_bom(out.getvalue()), filename)


MAX_XLSX_ROWS = 500_000


@get(
    "/inventory/reconciliation/{reconciliation_id:int}/export.xlsx",
    guards=[requires(READ)],
    operation_id="reconciliationExportXlsx",
)
async def export_xlsx(
    state: State, principal: NamedDependency[Principal], reconciliation_id: FromPath[int]
) -> Response[bytes]:
    """Every row of a reconciliation as one XLSX sheet (money masked without margin:read;
    values written as text or numbers, never as formulas)."""
    import xlsxwriter

    from tierline.platform.downloads import XLSX, file_download

    sees = _sees_money(principal)
    async with tenant_session(principal.tenant) as s:
        await service.find(s, reconciliation_id)
        codec = await _codec(state, principal.tenant) if sees else None
        page = await service.rows_page(s, reconciliation_id, codec, limit=MAX_XLSX_ROWS)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("reconciliation")
    head = list(ReconciliationRowOut.__struct_fields__)
    for col, name in enumerate(head):
        sheet.write_string(0, col, name)
    for line, row in enumerate(page.rows, start=1):
        shown = msgspec_dict(_row_out(row, not sees))
        shown["mismatches"] = " ".join(shown["mismatches"])
        for col, name in enumerate(head):
            value = shown[name]
            if isinstance(value, bool):
                sheet.write_boolean(line, col, value)
            elif isinstance(value, int | float):
                sheet.write_number(line, col, value)
            elif value is not None:
                sheet.write_string(line, col, str(value))
    sheet.autofilter(0, 0, max(len(page.rows), 1), len(head) - 1)
    book.close()
    filename = f"erp-reconciliation-{principal.tenant.slug}-{reconciliation_id}.xlsx"
    return file_download(buffer.getvalue(), filename, XLSX)


def msgspec_dict(value: Any) -> dict[str, Any]:
    return dict(msgspec.to_builtins(value))


# ---------------------------------------------------------------------------------------------
# JSON API


@get(
    "/inventory/reconciliations",
    guards=[requires(READ)],
    operation_id="listReconciliations",
    tags=TAGS,
    dependencies=PAGED,
)
async def api_list(
    principal: NamedDependency[Principal], page: PageRequest
) -> Page[ReconciliationOut]:
    """Reconciliations, newest first (cursor pages)."""
    position = page.position()
    async with tenant_session(principal.tenant) as s:
        rows = await service.history(s, page.limit + 1, _before(position))
    return page.of([_out(r) for r in rows], lambda r: (r.id,))


def _before(position: Position | None) -> int | None:
    """The id a cursor stands for (a cursor of another list is refused, never guessed)."""
    if position is None:
        return None
    if len(position) != 1 or not isinstance(position[0], int):
        raise InvalidCursor("cursor: not a cursor of this list (pass next_cursor as is)")
    return position[0]


@post(
    "/inventory/reconciliations",
    guards=[requires(WRITE)],
    operation_id="createReconciliation",
    tags=TAGS,
    status_code=202,
)
async def api_create(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    data: ReconcileIn,
) -> ReconciliationQueued:
    """Queue a reconciliation of the policy run in force with the ERP's parameters; poll the
    job, whose result names the reconciliation (409 without a run in force)."""
    job = await service.submit_reconciliation(
        state.runtime, principal.tenant, actor_of(request, principal), data.as_of or _today()
    )
    return ReconciliationQueued(job=job, status_url=f"/api/v1/jobs/{job['id']}")


@get(
    "/inventory/reconciliations/{reconciliation_id:int}",
    guards=[requires(READ)],
    operation_id="getReconciliation",
    tags=TAGS,
)
async def api_get(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    reconciliation_id: FromPath[int],
) -> ReconciliationPageOut:
    """One reconciliation and a page of its rows by money at stake (``offset``, ``limit``,
    ``changed=1``, ``flag``); ``value_delta`` null and ``masked`` without ``margin:read``."""
    query = request.query_params
    offset = _int(query.get("offset"), "offset", 0, 10**8)
    limit = _int(query.get("limit"), "limit", PAGE_SIZE, MAX_LIMIT) or PAGE_SIZE
    sees = _sees_money(principal)
    async with tenant_session(principal.tenant) as s:
        found = await service.find(s, reconciliation_id)
        codec = await _codec(state, principal.tenant) if sees else None
        page = await service.rows_page(
            s, found.id, codec, offset=offset, limit=limit,
            changed_only=query.get("changed") == "1", flag=_flag(query.get("flag")),
        )  # fmt: skip
        head = _out(found)
    following = offset + limit if offset + limit < page.total else None
    return ReconciliationPageOut(
        head, [_row_out(r, not sees) for r in page.rows], page.total, following
    )


@post(
    "/inventory/reconciliations/{reconciliation_id:int}/submit",
    guards=[requires(WRITE)],
    operation_id="submitReconciliation",
    tags=TAGS,
    status_code=200,
)
async def api_submit(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    reconciliation_id: FromPath[int],
    data: SubmitIn,
) -> ReconciliationOut:
    """Send the change set to the approval queue (409 when not open or nothing changes)."""
    async with tenant_session(principal.tenant) as s:
        await service.submit(s, reconciliation_id, actor_of(request, principal), data.note)
        return _out(await service.find(s, reconciliation_id))


@get(
    "/inventory/reconciliations/{reconciliation_id:int}/writeback",
    guards=[requires(READ)],
    operation_id="getReconciliationWriteback",
    tags=TAGS,
    media_type="text/csv",
)
async def api_writeback(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    reconciliation_id: FromPath[int],
) -> Response[bytes]:
    """The approved change set as the ERP's upload file (422 before approval)."""
    return await _writeback(request, principal, reconciliation_id)


ROUTES = [
    StaffPages(
        reconciliation_page, reconcile_page, submit_page, writeback_page, export_csv, export_xlsx
    ),
    Api(api_list, api_create, api_get, api_submit, api_writeback),
]
