"""S&OP packs: a staff page (packs kept, make one now, subscribe), downloads, and the API under
``/api/v1/analytics/sop-packs``. Reading and subscribing need ``analytics:read``, making a pack
``analytics:write``. A kept pack is tenant-wide and unmasked: it is served as kept only to a
reader who sees money in every scope; anyone else gets the month's pack made for their scopes
and masking at that moment. Every download is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from tierline.analytics.cost_to_serve.figures import WindowRefused
from tierline.analytics.schemas import PackRequest, PackRunOut, SubscriptionIn, SubscriptionOut
from tierline.analytics.sop.pack import build_pack
from tierline.analytics.sop.runs import RunInfo, list_runs, run_file, subscribe, subscribers
from tierline.analytics.sop.service import make_pack
from tierline.analytics.web import (
    READ,
    WRITE,
    audit_export,
    page_context,
    parse_month,
    sees_money,
    visible_scopes,
)
from tierline.platform.access import requires
from tierline.platform.downloads import XLSX, file_download
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.principal import Principal
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session

PDF = "application/pdf"


def _out(run: RunInfo, base: str) -> PackRunOut:
    return PackRunOut(
        id=str(run.id),
        month=run.month,
        trigger=run.trigger,
        requested_by=run.requested_by,
        created_at=run.created_at,
        summary=run.summary,
        xlsx_url=f"{base}/{run.id}/workbook.xlsx",
        pdf_url=f"{base}/{run.id}/summary.pdf",
    )


def _run_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundException() from None


async def _file(
    request: Request[Any, Any, Any], principal: Principal, raw_id: str, kind: str
) -> Response[bytes]:
    tenant = principal.tenant
    codec = await load_codec(tenant, kms_from_settings(request.app.state.settings))
    async with tenant_session(tenant) as s:
        found = await run_file(s, codec, _run_id(raw_id), kind)
    if found is None:
        raise NotFoundException()
    run, body = found
    scopes = visible_scopes(request, principal)
    masked = not sees_money(request, principal)
    if masked or scopes is not None:  # the kept pack shows more than this reader may see
        pack = await build_pack(request.app.state.runtime, tenant, run.month, scopes, masked)
        body = pack.xlsx if kind == "xlsx" else pack.pdf
    await audit_export(
        request,
        principal,
        "sop_pack",
        kind,
        {"run": str(run.id), "month": run.month.isoformat(), "as_kept": not (masked or scopes)},
        masked,
    )
    name = f"sop-pack-{run.month:%Y-%m}.{kind}"
    response: Response[bytes] = file_download(body, name, XLSX if kind == "xlsx" else PDF)
    return response


@get("/analytics/reports", guards=[requires(READ)], operation_id="sopPacksPage")
async def packs_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """The S&OP packs kept, making one now, and the caller's e-mail subscription."""
    async with tenant_session(principal.tenant) as s:
        runs = await list_runs(s)
        subscribed = principal.display.lower() in await subscribers(s)
    context = page_context(
        request,
        principal,
        runs=runs,
        subscribed=subscribed,
        made=request.query_params.get("made"),
        error=request.query_params.get("error"),
        today=datetime.now(UTC).date(),
    )
    return Template("analytics/reports.html", context=context)


@post("/analytics/reports", guards=[requires(WRITE)], operation_id="sopPackMake")
async def make_pack_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Redirect:
    form = await request.form()
    base = f"/t/{principal.tenant.slug}/analytics/reports"
    try:
        month = parse_month(str(form.get("month", "")), "month")
    except WindowRefused as exc:
        return Redirect(f"{base}?error={str(exc)[:200]}", status_code=303)
    if month is None:
        return Redirect(f"{base}?error=month: choose a month", status_code=303)
    run = await make_pack(
        request.app.state.runtime,
        principal.tenant,
        month,
        trigger="manual",
        requested_by=principal.display,
    )
    return Redirect(f"{base}?made={run.id if run else ''}", status_code=303)


@post("/analytics/reports/subscription", guards=[requires(READ)], operation_id="sopPackSubscribe")
async def subscription_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Redirect:
    form = await request.form()
    async with tenant_session(principal.tenant) as s:
        await subscribe(s, principal.display.lower(), form.get("subscribed") == "yes")
    return Redirect(f"/t/{principal.tenant.slug}/analytics/reports", status_code=303)


@get(
    "/analytics/reports/{run_id:str}/workbook.xlsx",
    guards=[requires(READ)],
    operation_id="sopPackXlsxPage",
)
async def pack_xlsx_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Response[bytes]:
    return await _file(request, principal, run_id, "xlsx")


@get(
    "/analytics/reports/{run_id:str}/summary.pdf",
    guards=[requires(READ)],
    operation_id="sopPackPdfPage",
)
async def pack_pdf_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Response[bytes]:
    return await _file(request, principal, run_id, "pdf")


@get(
    "/analytics/sop-packs", guards=[requires(READ)], operation_id="listSopPacks", dependencies=PAGED
)
async def api_packs(
    principal: NamedDependency[Principal], page: NamedDependency[PageRequest]
) -> Page[PackRunOut]:
    """The S&OP packs kept, newest first."""
    async with tenant_session(principal.tenant) as s:
        runs = await list_runs(s, limit=1_000)
    outs = [_out(r, "/api/v1/analytics/sop-packs") for r in runs]
    return page.slice(outs, lambda o: (o.created_at.isoformat(), o.id), descending=True)


@post(
    "/analytics/sop-packs",
    guards=[requires(WRITE)],
    operation_id="makeSopPack",
    status_code=HTTP_201_CREATED,
)
async def api_make_pack(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: JSONBody[PackRequest],
) -> PackRunOut:
    """Make and keep the pack of a month now (the XLSX with one sheet per view and the PDF)."""
    run = await make_pack(
        request.app.state.runtime,
        principal.tenant,
        data.month.replace(day=1),
        trigger="manual",
        requested_by=principal.display,
    )
    assert run is not None  # made on demand, never refused as a duplicate
    return _out(run, "/api/v1/analytics/sop-packs")


@get(
    "/analytics/sop-packs/{run_id:str}/workbook.xlsx",
    guards=[requires(READ)],
    operation_id="getSopPackXlsx",
    media_type=XLSX,
)
async def api_pack_xlsx(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Response[bytes]:
    """The pack's workbook (as kept, or made for the caller's scopes and masking); audited."""
    return await _file(request, principal, run_id, "xlsx")


@get(
    "/analytics/sop-packs/{run_id:str}/summary.pdf",
    guards=[requires(READ)],
    operation_id="getSopPackPdf",
    media_type=PDF,
)
async def api_pack_pdf(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Response[bytes]:
    """The pack's PDF summary with charts (as kept, or for the caller); audited."""
    return await _file(request, principal, run_id, "pdf")


@put(
    "/analytics/sop-packs/subscription",
    guards=[requires(READ)],
    operation_id="putSopPackSubscription",
)
async def api_subscription(
    principal: NamedDependency[Principal], data: JSONBody[SubscriptionIn]
) -> SubscriptionOut:
    """Receive (or stop receiving) the scheduled pack by e-mail (a link; no money in mail)."""
    email = principal.display.lower()
    async with tenant_session(principal.tenant) as s:
        await subscribe(s, email, data.subscribed)
    return SubscriptionOut(email=email, subscribed=data.subscribed)


ROUTES = [
    StaffPages(packs_page, make_pack_form, subscription_form, pack_xlsx_page, pack_pdf_page),
    Api(api_packs, api_make_pack, api_pack_xlsx, api_pack_pdf, api_subscription),
]
