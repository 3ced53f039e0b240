"""The inventory distortion page: newest positions against the targets of the run in force by
segment and location, locations where high tiers hold too much while low tiers hold too
little, and the root causes per SKU-location; a CSV export and the JSON twin
``/api/v1/inventory/distortion``. Needs ``inventory:read``; money only with ``margin:read``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Template

from tierline.inventory.distortions.chart import STATUSES, status_chart
from tierline.inventory.distortions.service import Distortion, distortion_now
from tierline.platform.access import requires
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.downloads import csv_download, with_bom
from tierline.platform.encryption import MASKED, FieldCodec
from tierline.platform.identity.principal import Principal
from tierline.platform.pages import fmt_number
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

READ, MARGIN = "inventory:read", "margin:read"
TAGS = ["inventory"]
SHOWN_ROWS = 100


def _today() -> date:
    return datetime.now(UTC).date()


async def _distortion(state: State, principal: Principal) -> Distortion:
    codec: FieldCodec | None = None
    if MARGIN in principal.permissions:
        codec = await _codec(state, principal.tenant)
    async with tenant_session(principal.tenant) as s:
        return await distortion_now(s, codec, _today())


async def _codec(state: State, tenant: TenantRef) -> FieldCodec:
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    codec: FieldCodec = await load_codec(tenant, kms_from_settings(state.settings))
    return codec


def _by_segment(found: Distortion) -> Any:
    import polars as pl

    statuses = [s for s, _l, _c in STATUSES]
    return found.report.by_location_segment.group_by("segment", "tier").agg(
        pl.col("sku_locations").sum(), *[pl.col(s).sum() for s in statuses]
    )


@get("/inventory/distortion", guards=[requires(READ)], operation_id="distortionPage")
async def distortion_page(
    request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
) -> Template:
    """Positions against targets, network expense and root causes."""
    found = await _distortion(state, principal)
    worst = found.explained.sort(
        "shortfall_units", "excess_units", descending=True, nulls_last=True
    ).head(SHOWN_ROWS)
    context = {
        "tenant": principal.tenant,
        "principal": principal,
        "found": found,
        "summary": found.report.by_location_segment.to_dicts(),
        "expense": found.report.network_expense.to_dicts(),
        "worst": worst.to_dicts(),
        "distorted": found.explained.height,
        "chart": status_chart(_by_segment(found)),
        "valued": found.valued,
        "masked": MASKED,
        "fmt_number": fmt_number,
        "money": lambda minor: "—" if minor is None else fmt_number(minor / 100),
    }
    return Template("inventory/distortion.html", context=context)


@get(
    "/inventory/distortion/export.csv",
    guards=[requires(READ)],
    operation_id="distortionExport",
)
async def export_csv(state: State, principal: NamedDependency[Principal]) -> Response[bytes]:
    """Every distorted SKU-location with its status, gap and root causes."""
    found = await _distortion(state, principal)
    head = [
        "sku", "location", "segment", "tier", "status", "measure", "safety_stock",
        "max_level", "excess_units", "shortfall_units", "causes",
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for row in found.explained.iter_rows(named=True):
        row["causes"] = " ".join(row.get("causes") or [])
        writer.writerow(safe_csv_row(row.get(c) for c in head))
    return csv_download(with_bom(out.getvalue()), f"distortion-{principal.tenant.slug}.csv")


class DistortionSegmentOut(msgspec.Struct):
    location: str
    segment: str
    tier: int
    sku_locations: int
    stockout: int
    below_safety_stock: int
    within_target: int
    above_max: int
    missing_data: int
    excess_units: float
    shortfall_units: float
    excess_value: float | None  # null without margin:read or a unit cost
    shortfall_value: float | None


class NetworkExpenseOut(msgspec.Struct):
    location: str
    finding: str
    high_tier_segments_above_max: list[str]
    low_tier_segments_below_target: list[str]
    excess_units: float
    shortfall_units: float


class DistortionOut(msgspec.Struct):
    policy_run_id: str
    masked: bool
    by_location_segment: list[DistortionSegmentOut]
    network_expense: list[NetworkExpenseOut]
    distorted_sku_locations: int


@get(
    "/inventory/distortion",
    guards=[requires(READ)],
    operation_id="getInventoryDistortion",
    tags=TAGS,
)
async def api_distortion(state: State, principal: NamedDependency[Principal]) -> DistortionOut:
    """Newest positions against the run in force, per location and segment, and the
    locations where high tiers hold too much while low tiers hold too little (409 without a
    run in force). Values are null with ``masked`` true without ``margin:read``."""
    found = await _distortion(state, principal)

    def value(minor: Any) -> float | None:
        return None if minor is None else minor / 100

    rows = [
        DistortionSegmentOut(
            location=r["location"],
            segment=r["segment"],
            tier=int(r["tier"]),
            sku_locations=int(r["sku_locations"]),
            stockout=int(r["stockout"]),
            below_safety_stock=int(r["below_safety_stock"]),
            within_target=int(r["within_target"]),
            above_max=int(r["above_max"]),
            missing_data=int(r["missing_data"]),
            excess_units=float(r["excess_units"] or 0),
            shortfall_units=float(r["shortfall_units"] or 0),
            excess_value=value(r["excess_value_minor"]),
            shortfall_value=value(r["shortfall_value_minor"]),
        )
        for r in found.report.by_location_segment.iter_rows(named=True)
    ]
    expense = [
        NetworkExpenseOut(
            location=r["location"],
            finding=r["finding"],
            high_tier_segments_above_max=list(r["high_tier_segments_above_max"]),
            low_tier_segments_below_target=list(r["low_tier_segments_below_target"]),
            excess_units=float(r["excess_units"] or 0),
            shortfall_units=float(r["shortfall_units"] or 0),
        )
        for r in found.report.network_expense.iter_rows(named=True)
    ]
    return DistortionOut(str(found.run_id), not found.valued, rows, expense, found.explained.height)


ROUTES = [StaffPages(distortion_page, export_csv), Api(api_distortion)]
