"""Inventory policy's staff pages: overview, policy editor, runs, results, one SKU-location,
the calculator. Forms are plain POSTs (they work without JavaScript); a refused one re-renders
with its messages (422)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
import polars as pl
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from tierline.inventory import service as inventory
from tierline.inventory.charts import cover_spread, projection
from tierline.inventory.controllers import APPROVE, READ, RUN, WRITE, results_frame
from tierline.inventory.document import (
    MEASURE_LABELS,
    POLICY_TYPE_LABELS,
    TARGET_RULE_LABELS,
    document_dict,
)
from tierline.inventory.export import results_csv, results_xlsx
from tierline.inventory.formulas import FLAG_REASONS, Flag
from tierline.inventory.runs import get_run, list_runs
from tierline.inventory.simulations.service import pending_shortfall
from tierline.inventory.store import get_policy, list_policies, versions
from tierline.platform.access import requires
from tierline.platform.downloads import XLSX, csv_download, file_download
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of, allowed_here
from tierline.platform.routing import StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.service import published_segments, scheme_infos

PAGE_SIZE = 100
FLAG_LABELS = {(f.name or "").lower(): text for f, text in FLAG_REASONS.items()}


def _base(request: Request[Any, Any, Any], principal: Principal) -> dict[str, Any]:
    return {
        "tenant": principal.tenant,
        "principal": principal,
        "can_write": allowed_here(request, WRITE),
        "can_run": allowed_here(request, RUN),
        "can_approve": allowed_here(request, APPROVE),
        "policy_types": POLICY_TYPE_LABELS,
        "measures": MEASURE_LABELS,
        "target_rules": TARGET_RULE_LABELS,
        "flag_labels": FLAG_LABELS,
        "pct": lambda v: "" if v is None else f"{v * 100:.1f} %",
        "num": lambda v, d=1: "" if v is None else f"{v:,.{d}f}",
    }


def _run_uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundException() from None


# --- overview ----------------------------------------------------------------------------


@get("/inventory", guards=[requires(READ)], operation_id="inventoryPage")
async def inventory_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Policies, runs, the run in force and its spread of safety stock per segment."""
    async with tenant_session(principal.tenant) as s:
        policies = await list_policies(s)
        runs = await list_runs(s, 20)
        run_id, results = await inventory.latest_policy_results(s)
        schemes = await scheme_infos(s, published_only=True)
        order = await _segment_order(s, run_id)
    return Template(
        "inventory/overview.html",
        context={
            **_base(request, principal),
            "policies": policies,
            "runs": runs,
            "in_force": run_id,
            "result_count": results.height,
            "spread": cover_spread(results, order),
            "schemes": schemes,
            "started": request.query_params.get("started"),
        },
    )


async def _segment_order(session: Any, run_id: uuid.UUID | None) -> list[str]:
    """The segments of the run's policy document, best first (the document lists them so)."""
    if run_id is None:
        return []
    run = await get_run(session, run_id)
    policy = await inventory.published(session, run.policy_code, run.version)
    return [s.segment for s in policy.document.segments]


@post("/inventory/policies", guards=[requires(WRITE)], operation_id="createInventoryPolicyPage")
async def create_policy_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Redirect:
    """A new policy whose draft starts from the example for the chosen scheme's segments."""
    form = dict(await request.form())
    code, scheme = str(form.get("code", "")).strip(), str(form.get("scheme", ""))
    async with tenant_session(principal.tenant) as s:
        segments = await published_segments(s, scheme) or []
        draft = document_dict(inventory.example_document(scheme, [x.code for x in segments]))
        await inventory.create_policy(
            s, code, str(form.get("name", code)), draft, actor_of(request, principal)
        )
    return Redirect(f"/t/{principal.tenant.slug}/inventory/policies/{quote(code)}", status_code=303)


# --- the policy editor -------------------------------------------------------------------


async def _policy_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    code: str,
    text: str | None = None,
    issues: list[inventory.PolicyIssue] | None = None,
    status: int = 200,
) -> Template:
    async with tenant_session(principal.tenant) as s:
        row = await get_policy(s, code)
        found = await versions(s, code)
        shortfall = await pending_shortfall(s, code)
    return Template(
        "inventory/policy.html",
        status_code=status,
        context={
            **_base(request, principal),
            "policy": row,
            "versions": found,
            "text": text if text is not None else json.dumps(row.draft, indent=2),
            "issues": issues or [],
            "notice": request.query_params.get("notice"),
            "shortfall": shortfall,
        },
    )


@get("/inventory/policies/{code:str}", guards=[requires(READ)], operation_id="inventoryPolicyPage")
async def policy_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: FromPath[str]
) -> Template:
    """The draft as an editable document, the published versions with their hashes."""
    return await _policy_page(request, principal, code)


@post(
    "/inventory/policies/{code:str}",
    guards=[requires(WRITE)],
    operation_id="saveInventoryPolicyPage",
)
async def save_policy_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], code: FromPath[str]
) -> Response[Any]:
    """Save (validate) the draft, and publish it when asked to."""
    form = dict(await request.form())
    text = str(form.get("document", ""))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        issue = inventory.PolicyIssue("document", f"not JSON: {exc.msg} (line {exc.lineno})")
        return await _policy_page(request, principal, code, text, [issue], 422)
    actor = actor_of(request, principal)
    try:
        async with tenant_session(principal.tenant) as s:
            await inventory.save_draft(s, code, data, actor)
            notice = "Draft saved."
            if form.get("action") == "publish":
                version = await inventory.publish(
                    s,
                    code,
                    actor,
                    str(form.get("note") or ""),
                    acknowledge_shortfall=form.get("acknowledge_shortfall") == "yes",
                    shortfall_reason=str(form.get("shortfall_reason") or ""),
                )
                notice = f"Published version {version.version}."
    except inventory.PolicyInvalid as exc:
        return await _policy_page(request, principal, code, text, exc.issues, 422)
    except inventory.PolicyRefused as exc:
        issue = inventory.PolicyIssue("publish", str(exc))
        return await _policy_page(request, principal, code, text, [issue], 409)
    target = f"/t/{principal.tenant.slug}/inventory/policies/{quote(code)}?notice={quote(notice)}"
    return Redirect(target, status_code=303)


# --- runs --------------------------------------------------------------------------------


@post("/inventory/runs", guards=[requires(RUN)], operation_id="startInventoryRunPage")
async def start_run_page(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> Redirect:
    """The run button: queue a run of the policy's published version."""
    form = dict(await request.form())
    job = await inventory.submit_run(
        state.runtime, principal.tenant, str(form.get("policy", "")), actor_of(request, principal)
    )
    return Redirect(
        f"/t/{principal.tenant.slug}/inventory?started={quote(str(job['id']))}", status_code=303
    )


@get("/inventory/runs/{run_id:str}", guards=[requires(READ)], operation_id="inventoryRunPage")
async def run_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Template:
    """A run: what it used, counts per flag, its approval."""
    async with tenant_session(principal.tenant) as s:
        row = await get_run(s, _run_uuid(run_id))
    return Template("inventory/run.html", context={**_base(request, principal), "run": row})


@post(
    "/inventory/runs/{run_id:str}/decision",
    guards=[requires(APPROVE)],
    operation_id="decideInventoryRunPage",
)
async def decide_run_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal], run_id: FromPath[str]
) -> Redirect:
    form = dict(await request.form())
    async with tenant_session(principal.tenant) as s:
        await inventory.decide_run(
            s,
            _run_uuid(run_id),
            form.get("decision") == "approve",
            actor_of(request, principal),
            str(form.get("reason", "")),
        )
    return Redirect(f"/t/{principal.tenant.slug}/inventory/runs/{run_id}", status_code=303)


# --- results -----------------------------------------------------------------------------


def _filtered(frame: pl.DataFrame, params: Any) -> pl.DataFrame:
    if params.get("segment"):
        frame = frame.filter(pl.col("segment_code") == params["segment"])
    if params.get("flag"):
        frame = frame.filter(pl.col("flag_names").list.contains(params["flag"]))
    if params.get("q"):
        needle = str(params["q"]).lower()
        frame = frame.filter(
            pl.col("sku").str.to_lowercase().str.contains(needle, literal=True)
            | pl.col("location_code").str.to_lowercase().str.contains(needle, literal=True)
        )
    return frame


@get("/inventory/results", guards=[requires(READ)], operation_id="inventoryResultsPage")
async def results_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Results of the run in force (or ``run``), filtered by segment, flag or text."""
    params = request.query_params
    run_id, frame = await results_frame(principal, params.get("run"))
    segments = sorted(s for s in frame["segment_code"].unique().to_list() if s is not None)
    frame = _filtered(frame, params)
    page = max(
        int(params.get("page", "1") or 1) if str(params.get("page", "1")).isdigit() else 1, 1
    )
    rows = frame.slice((page - 1) * PAGE_SIZE, PAGE_SIZE).to_dicts()
    keep = {k: v for k, v in params.items() if k in ("run", "segment", "flag", "q") and v}
    return Template(
        "inventory/results.html",
        context={
            **_base(request, principal),
            "run_id": run_id,
            "rows": rows,
            "total": frame.height,
            "page": page,
            "pages": max((frame.height + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            "segments": segments,
            "flags": [(f.name or "").lower() for f in Flag if f],
            "filters": keep,
            "query": urlencode(keep),
        },
    )


@get(
    "/inventory/results.csv",
    guards=[requires(READ)],
    operation_id="inventoryResultsCsv",
)
async def results_csv_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[bytes]:
    """The filtered results as CSV."""
    _, frame = await results_frame(principal, request.query_params.get("run"))
    return csv_download(results_csv(_filtered(frame, request.query_params)), "policy-results.csv")


@get(
    "/inventory/results.xlsx",
    guards=[requires(READ)],
    operation_id="inventoryResultsXlsx",
)
async def results_xlsx_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """The filtered results as XLSX."""
    _, frame = await results_frame(principal, request.query_params.get("run"))
    body = results_xlsx(_filtered(frame, request.query_params))
    return file_download(body, "policy-results.xlsx", XLSX)


@get(
    "/inventory/results/{sku:str}/{location:str}",
    guards=[requires(READ)],
    operation_id="inventorySkuLocationPage",
)
async def sku_location_page(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    sku: FromPath[str],
    location: FromPath[str],
) -> Template:
    """One SKU-location: its numbers, where each comes from, and the projected inventory."""
    run_id, frame = await results_frame(principal, request.query_params.get("run"))
    found = frame.filter((pl.col("sku") == sku) & (pl.col("location_code") == location))
    if found.is_empty():
        raise NotFoundException()
    row = found.row(0, named=True)
    return Template(
        "inventory/sku_location.html",
        context={
            **_base(request, principal),
            "run_id": run_id,
            "r": row,
            "chart": projection(row),
        },
    )


# --- the calculator ----------------------------------------------------------------------

# What the page shows on first opening: a worked example (percent, as the page speaks).
CALCULATOR_EXAMPLE = {
    "demand_mean": "100", "demand_sd": "30", "lead_time_mean": "5", "lead_time_sd": "1",
    "review_period": "0", "order_quantity": "700", "target": "95",
}  # fmt: skip

_CALC_FIELDS = (
    "demand_mean", "demand_sd", "lead_time_mean", "lead_time_sd", "review_period",
    "order_quantity", "target", "k_max",
)  # fmt: skip


def _calculator_input(form: dict[str, Any]) -> tuple[inventory.CalculatorInput | None, str | None]:
    data: dict[str, Any] = {}
    for name in _CALC_FIELDS:
        raw = str(form.get(name, "")).strip().replace(",", ".")
        if raw:
            try:
                data[name] = float(raw)
            except ValueError:
                return None, f"{name.replace('_', ' ')}: '{raw}' is not a number"
    if "target" in data:
        data["target"] = data["target"] / 100.0  # the page speaks percent
    for name in ("policy_type", "service_measure", "distribution"):
        if form.get(name):
            data[name] = str(form[name])
    try:
        return msgspec.convert(data, inventory.CalculatorInput), None
    except msgspec.ValidationError as exc:
        return None, str(exc)


@get("/inventory/calculator", guards=[requires(READ)], operation_id="inventoryCalculatorPage")
async def calculator_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Enter demand, lead time and a target; get k, safety stock and what they deliver."""
    form: dict[str, Any] = {**CALCULATOR_EXAMPLE, **dict(request.query_params)}
    result, error = None, None
    data, error = _calculator_input(form)
    if data is not None:
        result = inventory.calculate(data)
    return Template(
        "inventory/calculator.html",
        status_code=422 if error else 200,
        context={
            **_base(request, principal),
            "form": form,
            "result": result,
            "error": error,
            "chart": _calculator_chart(form, result),
            "today": date.today(),
        },
    )


def _calculator_chart(form: dict[str, Any], result: Any) -> Any:
    if result is None or result.safety_stock is None:
        return None
    row = {
        **msgspec.to_builtins(result),
        "policy_type": form.get("policy_type", "s_q"),
        "demand_mean": float(str(form.get("demand_mean", "0")).replace(",", ".") or 0),
        "lead_time_mean": float(str(form.get("lead_time_mean", "0")).replace(",", ".") or 0),
    }
    return projection(row)


ROUTES = [
    StaffPages(
        inventory_page,
        create_policy_page,
        policy_page,
        save_policy_page,
        start_run_page,
        run_page,
        decide_run_page,
        results_page,
        results_csv_page,
        results_xlsx_page,
        sku_location_page,
        calculator_page,
    )
]
