"""Entitlements, contracts and escalation paths: staff pages and the JSON API.

Reading needs ``entitlements:read``, changing ``entitlements:write``. Forms are plain POSTs
(they work without JavaScript): a valid change redirects (303) with a notice, an invalid one
re-renders the page with each message next to its field (422). Pages show percent; the API
speaks the stored fractions (0..1). Refusals on the API are problem details with ``errors``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.access import requires
from tierline.platform.errors import problem_response
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.service import published_segments, scheme_infos
from tierline.service_levels.contracts import (
    ContractInput,
    ContractInvalid,
    contract_dict,
    list_contracts,
    save_contract,
)
from tierline.service_levels.entitlements import (
    DeliveryWindow,
    EntitlementInput,
    EntitlementInvalid,
    entitlement_dict,
    save_entitlement_version,
    versions_of_scheme,
)
from tierline.service_levels.escalation import (
    STAFF_ROLES,
    EscalationInvalid,
    StepInput,
    get_escalation,
    save_escalation,
    step_dict,
)
from tierline.service_levels.levels import FieldError
from tierline.service_levels.models import CHANNELS, PERIODS
from tierline.service_levels.schemas import (
    ContractOut,
    EntitlementCreateIn,
    EntitlementsOut,
    EntitlementVersionOut,
    EscalationIn,
    EscalationOut,
    SegmentEntitlementsOut,
    StepOut,
)

READ = "entitlements:read"
WRITE = "entitlements:write"
PERCENT_FIELDS = (
    "fill_rate_target",
    "otif_target",
    "perfect_order_target",
    "cycle_service_level",
    "allocation_min_share",
)
INT_FIELDS = ("quoted_lead_time_days", "allocation_priority", "picking_priority")
CONTRACT_PERCENT = ("fill_rate_min", "otif_min", "perfect_order_min")
MAX_ESCALATION_ROWS = 10


def _today() -> date:
    return datetime.now(UTC).date()


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for e in errors:
        found.setdefault(e.field, []).append(e.message)
    return found


def _refused(
    request: Request[Any, Any, Any], title: str, errors: list[FieldError]
) -> Response[Any]:
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    extra = {"errors": [{"field": e.field, "message": e.message} for e in errors]}
    return problem_response(request, 422, detail, title, extra)


# ---------------------------------------------------------------------------------------------
# Form parsing (percent on pages, fractions stored)


_WINDOW = re.compile(r"^\s*([a-z,\s]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


def parse_windows(raw: str) -> list[DeliveryWindow]:
    """``mon,tue,wed 08:00-16:00`` per line into windows; ValueError names the bad line."""
    windows = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        found = _WINDOW.match(line.lower())
        if not found:
            raise ValueError(f"line {number}: write it as 'mon,tue 08:00-16:00'")
        days = [d.strip() for d in found.group(1).split(",") if d.strip()]
        windows.append(DeliveryWindow(days, found.group(2).zfill(5), found.group(3).zfill(5)))
    return windows


def windows_text(windows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{','.join(w['days'])} {w['from']}-{w['to']}" for w in windows)


def _number(
    form: dict[str, str], name: str, convert: Callable[[str], Any], errors: list[FieldError]
) -> Any:
    raw = form.get(name, "").strip().replace(",", ".")
    if not raw:
        errors.append(FieldError(name, "required"))
        return None
    try:
        return convert(raw)
    except ValueError:
        errors.append(FieldError(name, f"'{raw}' is not a number"))
        return None


def _date(form: dict[str, str], name: str, errors: list[FieldError], required: bool) -> Any:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            errors.append(FieldError(name, "required"))
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, f"'{raw}' is not a date (YYYY-MM-DD)"))
        return None


def entitlement_from_form(form: dict[str, str]) -> tuple[EntitlementInput | None, list[FieldError]]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {
        "effective_from": _date(form, "effective_from", errors, True),
        "effective_to": _date(form, "effective_to", errors, False),
    }
    for name in PERCENT_FIELDS:
        pct = _number(form, name, float, errors)
        values[name] = None if pct is None else pct / 100
    for name in INT_FIELDS:
        values[name] = _number(form, name, int, errors)
    try:
        values["delivery_windows"] = parse_windows(form.get("delivery_windows", ""))
    except ValueError as exc:
        errors.append(FieldError("delivery_windows", str(exc)))
    for name in ("transport_rules", "taxonomy_code", "note"):
        values[name] = form.get(name, "").strip() or None
    values["allow_below_lower_tier"] = form.get("allow_below_lower_tier") == "on"
    values["close_open_version"] = form.get("close_open_version") == "on"
    if errors:
        return None, errors
    return EntitlementInput(**values), []


# ---------------------------------------------------------------------------------------------
# Entitlements page


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value) * 100:g}"


async def _scheme_context(s: AsyncSession, scheme_code: str | None) -> dict[str, Any]:
    schemes = await scheme_infos(s, published_only=True)
    codes = [r.code for r in schemes]
    chosen = scheme_code if scheme_code in codes else (codes[0] if codes else None)
    segments = (await published_segments(s, chosen) or []) if chosen else []
    versions = await versions_of_scheme(s, chosen) if chosen else []
    today = _today()
    history: dict[str, list[Any]] = {seg.code: [] for seg in segments}
    current: dict[str, Any] = {}
    for v in versions:
        history.setdefault(v.segment_code, []).append(v)
        in_force = v.effective_from <= today and (v.effective_to is None or v.effective_to > today)
        if in_force:
            current[v.segment_code] = v
    return {
        "schemes": schemes,
        "scheme_code": chosen,
        "segments": segments,
        "history": history,
        "current": current,
    }


async def _entitlements_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    scheme_code: str | None,
    form: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        context = await _scheme_context(s, scheme_code)
    return Template(
        "service_levels/entitlements.html",
        status_code=status,
        context={
            "tenant": principal.tenant,
            "principal": principal,
            **context,
            "can_write": allowed_here(request, WRITE),
            "form": form or {},
            "errors": _errors_by_field(errors or []),
            "saved": request.query_params.get("saved"),
            "pct": _pct,
            "windows_text": windows_text,
            "today": _today(),
        },
    )


@get(
    "/segments/entitlements",
    guards=[requires(READ)],
    operation_id="entitlementsPage",
)
async def entitlements_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Per scheme: segments in rank order with the entitlements in force and their history."""
    return await _entitlements_page(request, principal, request.query_params.get("scheme"))


@post(
    "/segments/entitlements",
    guards=[requires(WRITE)],
    operation_id="saveEntitlementPage",
)
async def save_entitlement_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Add a version from the form (percent in, fractions stored)."""
    raw = await request.form()
    form = {k: str(v)[:4000] for k, v in raw.items() if k != "_csrf"}
    scheme_code, segment_code = form.get("scheme_code", ""), form.get("segment_code", "")
    data, errors = entitlement_from_form(form)
    if data is not None:
        try:
            async with tenant_session(principal.tenant) as s:
                await save_entitlement_version(
                    s, scheme_code, segment_code, data, actor_of(request, principal)
                )
        except EntitlementInvalid as exc:
            errors = exc.errors
    if errors:
        page = await _entitlements_page(request, principal, scheme_code, form, errors, 422)
        return page  # type: ignore[return-value]
    target = (
        f"/t/{principal.tenant.slug}/segments/entitlements"
        f"?scheme={quote(scheme_code)}&saved={quote(segment_code)}"
    )
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Contracts page


def contract_from_form(form: dict[str, str]) -> tuple[ContractInput | None, list[FieldError]]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {
        "customer_code": form.get("customer_code", "").strip(),
        "reference": form.get("reference", "").strip(),
        "valid_from": _date(form, "valid_from", errors, True),
        "valid_to": _date(form, "valid_to", errors, False),
        "note": form.get("note", "").strip() or None,
    }
    for name in CONTRACT_PERCENT:
        if form.get(name, "").strip():
            pct = _number(form, name, float, errors)
            values[name] = None if pct is None else pct / 100
    if form.get("max_lead_time_days", "").strip():
        values["max_lead_time_days"] = _number(form, "max_lead_time_days", int, errors)
    if errors:
        return None, errors
    return ContractInput(**values), []


async def _contracts_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    form: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        contracts = await list_contracts(s)
    return Template(
        "service_levels/contracts.html",
        status_code=status,
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "contracts": contracts,
            "can_write": allowed_here(request, WRITE),
            "form": form or {},
            "errors": _errors_by_field(errors or []),
            "saved": request.query_params.get("saved"),
            "pct": _pct,
            "today": _today(),
        },
    )


@get(
    "/segments/contracts",
    guards=[requires(READ)],
    operation_id="contractsPage",
)
async def contracts_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Customer contracts with their contracted service levels."""
    return await _contracts_page(request, principal)


@post(
    "/segments/contracts",
    guards=[requires(WRITE)],
    operation_id="saveContractPage",
)
async def save_contract_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    raw = await request.form()
    form = {k: str(v)[:4000] for k, v in raw.items() if k != "_csrf"}
    data, errors = contract_from_form(form)
    if data is not None:
        try:
            async with tenant_session(principal.tenant) as s:
                saved = await save_contract(s, data, actor_of(request, principal))
        except ContractInvalid as exc:
            errors = exc.errors
    if errors or data is None:
        return await _contracts_page(request, principal, form, errors, 422)  # type: ignore[return-value]
    target = f"/t/{principal.tenant.slug}/segments/contracts?saved={quote(saved.reference)}"
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Escalation editor


async def _known_segment(s: AsyncSession, scheme: str, segment: str) -> Any:
    segments = await published_segments(s, scheme)
    found = next((x for x in segments or [] if x.code == segment), None)
    if found is None:
        raise NotFoundException()
    return found


def steps_from_form(form: dict[str, str]) -> list[StepInput]:
    steps: list[StepInput] = []
    for row in range(1, MAX_ESCALATION_ROWS + 1):
        notify = form.get(f"notify_{row}", "").strip()
        if not notify:
            continue
        raw_after = form.get(f"after_periods_{row}", "").strip()
        steps.append(
            StepInput(
                step=len(steps) + 1,
                notify=notify,
                after_periods=int(raw_after) if raw_after.isdigit() else 0,
                period=form.get(f"period_{row}", "week"),
                channel=form.get(f"channel_{row}", "in_app"),
            )
        )
    return steps


async def _escalation_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    scheme: str,
    segment: str,
    rows: list[dict[str, Any]] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        found = await _known_segment(s, scheme, segment)
        current = [step_dict(x) for x in await get_escalation(s, scheme, segment)]
    shown = rows if rows is not None else current
    blank = {"notify": "", "after_periods": "", "period": "week", "channel": "in_app"}
    padded = shown + [blank] * max(0, min(3, MAX_ESCALATION_ROWS - len(shown)))
    return Template(
        "service_levels/escalation.html",
        status_code=status,
        context={
            "tenant": principal.tenant,
            "principal": principal,
            "scheme_code": scheme,
            "segment": found,
            "rows": padded,
            "can_write": allowed_here(request, WRITE),
            "errors": _errors_by_field(errors or []),
            "saved": request.query_params.get("saved"),
            "periods": PERIODS,
            "channels": CHANNELS,
            "roles": STAFF_ROLES,
        },
    )


@get(
    "/segments/escalations/{scheme:str}/{segment:str}",
    guards=[requires(READ)],
    operation_id="escalationPage",
)
async def escalation_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: FromPath[str],
    segment: FromPath[str],
) -> Template:
    """A segment's escalation path: whom to notify after how many periods below target."""
    return await _escalation_page(request, principal, scheme, segment)


@post(
    "/segments/escalations/{scheme:str}/{segment:str}",
    guards=[requires(WRITE)],
    operation_id="saveEscalationPage",
)
async def save_escalation_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: FromPath[str],
    segment: FromPath[str],
) -> Response[Any]:
    raw = await request.form()
    form = {k: str(v)[:400] for k, v in raw.items() if k != "_csrf"}
    steps = steps_from_form(form)
    try:
        async with tenant_session(principal.tenant) as s:
            await _known_segment(s, scheme, segment)
            await save_escalation(s, scheme, segment, steps, actor_of(request, principal))
    except EscalationInvalid as exc:
        rows = [msgspec.to_builtins(x) for x in steps]
        page = await _escalation_page(request, principal, scheme, segment, rows, exc.errors, 422)
        return page  # type: ignore[return-value]
    target = (
        f"/t/{principal.tenant.slug}/segments/escalations/{quote(scheme)}/{quote(segment)}?saved=1"
    )
    return Redirect(target, status_code=303)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# JSON API


def _version_out(row: Any) -> EntitlementVersionOut:
    return msgspec.convert(entitlement_dict(row), EntitlementVersionOut)


@get(
    "/entitlements",
    guards=[requires(READ)],
    operation_id="listEntitlements",
)
async def api_entitlements(
    principal: NamedDependency[Principal],
    scheme: Annotated[str, QueryParameter(max_length=40, description="A published scheme.")],
) -> EntitlementsOut:
    """Segments of a published scheme (rank order) with every entitlement version (fractions)."""
    async with tenant_session(principal.tenant) as s:
        segments = await published_segments(s, scheme)
        if segments is None:
            raise NotFoundException()
        versions = await versions_of_scheme(s, scheme)
    return EntitlementsOut(
        scheme=scheme,
        segments=[
            SegmentEntitlementsOut(
                code=seg.code,
                name=seg.name,
                rank=seg.rank,
                colour=seg.colour,
                versions=[_version_out(v) for v in versions if v.segment_code == seg.code],
            )
            for seg in segments
        ],
    )


@post(
    "/entitlements",
    guards=[requires(WRITE)],
    operation_id="createEntitlementVersion",
    status_code=201,
)
async def api_create_entitlement(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: EntitlementCreateIn,
) -> Response[EntitlementVersionOut]:
    """Add a version: ``scheme_code``, ``segment_code`` and the entitlement fields (fractions
    0..1); 422 with ``errors`` (field, message) when refused, nothing written."""
    fields = msgspec.structs.asdict(data)
    scheme_code, segment_code = fields.pop("scheme_code"), fields.pop("segment_code")
    entitlement = EntitlementInput(**fields)
    try:
        async with tenant_session(principal.tenant) as s:
            row = await save_entitlement_version(
                s, scheme_code, segment_code, entitlement, actor_of(request, principal)
            )
            out = _version_out(row)
    except EntitlementInvalid as exc:
        return _refused(request, exc.title, exc.errors)
    return Response(out, status_code=201)


@get(
    "/contracts",
    guards=[requires(READ)],
    operation_id="listContracts",
    dependencies=PAGED,
)
async def api_contracts(
    principal: NamedDependency[Principal], page: PageRequest
) -> Page[ContractOut]:
    """Every contract by id (minimums as fractions 0..1, null when not contracted)."""
    async with tenant_session(principal.tenant) as s:
        found = [msgspec.convert(contract_dict(c), ContractOut) for c in await list_contracts(s)]
    return page.slice(sorted(found, key=lambda c: c.id), lambda c: (c.id,))


@post(
    "/contracts",
    guards=[requires(WRITE)],
    operation_id="createContract",
    status_code=201,
)
async def api_create_contract(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], data: ContractInput
) -> Response[ContractOut]:
    """Add a contract (minimums as fractions 0..1); 422 with ``errors`` when refused (an
    overlapping contract, a minimum out of range)."""
    try:
        async with tenant_session(principal.tenant) as s:
            saved = await save_contract(s, data, actor_of(request, principal))
            out = msgspec.convert(contract_dict(saved), ContractOut)
    except ContractInvalid as exc:
        return _refused(request, exc.title, exc.errors)
    return Response(out, status_code=201)


def _steps_out(scheme: str, segment: str, rows: list[Any]) -> EscalationOut:
    return EscalationOut(
        scheme=scheme,
        segment=segment,
        steps=[msgspec.convert(step_dict(r), StepOut) for r in rows],
    )


@get(
    "/escalations/{scheme:str}/{segment:str}",
    guards=[requires(READ)],
    operation_id="getEscalation",
)
async def api_escalation(
    principal: NamedDependency[Principal], scheme: FromPath[str], segment: FromPath[str]
) -> EscalationOut:
    """A segment's escalation path, steps in order."""
    async with tenant_session(principal.tenant) as s:
        await _known_segment(s, scheme, segment)
        rows = list(await get_escalation(s, scheme, segment))
    return _steps_out(scheme, segment, rows)


@put(
    "/escalations/{scheme:str}/{segment:str}",
    guards=[requires(WRITE)],
    operation_id="saveEscalation",
)
async def api_save_escalation(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    scheme: FromPath[str],
    segment: FromPath[str],
    data: EscalationIn,
) -> Response[EscalationOut]:
    """Replace the path with ``{"steps": [...]}``; 422 with ``errors`` when refused."""
    try:
        async with tenant_session(principal.tenant) as s:
            await _known_segment(s, scheme, segment)
            rows = await save_escalation(
                s, scheme, segment, data.steps, actor_of(request, principal)
            )
            out = _steps_out(scheme, segment, list(rows))
    except EscalationInvalid as exc:
        return _refused(request, exc.title, exc.errors)
    return Response(out)


ROUTES = [
    StaffPages(
        entitlements_page,
        save_entitlement_page,
        contracts_page,
        save_contract_page,
        escalation_page,
        save_escalation_page,
    ),
    Api(
        api_entitlements,
        api_create_entitlement,
        api_contracts,
        api_create_contract,
        api_escalation,
        api_save_escalation,
    ),
]
