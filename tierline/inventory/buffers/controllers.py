"""The multi-echelon buffers page: where each segment's safety stock sits across the echelons,
and capacity cuts at locations over capacity with the service each cut costs; the JSON twin
``/api/v1/inventory/buffers``. Needs ``inventory:read``; units only, no money."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template

from tierline.inventory.buffers.service import buffers_now
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.pages import fmt_number
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session

READ = "inventory:read"
TAGS = ["inventory"]
SHOWN_CUTS = 100


@get("/inventory/buffers", guards=[requires(READ)], operation_id="buffersPage")
async def buffers_page(principal: NamedDependency[Principal]) -> Template:
    """Buffer profiles per segment and echelon; capacity cuts lowest tier first."""
    async with tenant_session(principal.tenant) as s:
        found = await buffers_now(s)
    cuts = found.cuts
    context = {
        "tenant": principal.tenant,
        "principal": principal,
        "profile": found.profile.to_dicts(),
        "locations": cuts.locations.sort(
            "unresolved_overflow", "overflow", descending=True
        ).to_dicts(),
        "segments": cuts.segments.filter(cuts.segments["cut_units"] > 0).to_dicts(),
        "flags": cuts.flags.group_by("code", "reason").len().sort("code").to_dicts(),
        "fmt_number": fmt_number,
        "pct": lambda v: "—" if v is None else f"{v:.1%}",
    }
    return Template("inventory/buffers.html", context=context)


class BufferProfileOut(msgspec.Struct):
    segment: str
    echelon: int
    sku_locations: int
    safety_stock_units: float
    share: float | None


class LocationCapacityOut(msgspec.Struct):
    location: str
    capacity: float | None
    usage_before: float
    usage_after: float
    overflow: float
    freed: float
    unresolved_overflow: float
    status: str


class SegmentCutOut(msgspec.Struct):
    location: str
    segment: str
    tier: int
    sku_locations: int
    sku_locations_cut: int
    cut_units: float
    extra_units_short_per_year: float
    fill_rate_before: float | None
    fill_rate_after: float | None
    cycle_service_level_before: float | None
    cycle_service_level_after: float | None


class BuffersOut(msgspec.Struct):
    policy_run_id: str
    profile: list[BufferProfileOut]
    locations: list[LocationCapacityOut]
    cuts: list[SegmentCutOut]


def _struct(shape: type[Any], row: dict[str, Any]) -> Any:
    return msgspec.convert({k: row.get(k) for k in shape.__struct_fields__}, shape)


@get("/inventory/buffers", guards=[requires(READ)], operation_id="getInventoryBuffers", tags=TAGS)
async def api_buffers(principal: NamedDependency[Principal]) -> BuffersOut:
    """Buffer profile per segment and echelon, capacity per location and the cuts per
    location and segment with their service cost (409 without a run in force)."""
    async with tenant_session(principal.tenant) as s:
        found = await buffers_now(s)
    return BuffersOut(
        str(found.run_id),
        [_struct(BufferProfileOut, r) for r in found.profile.iter_rows(named=True)],
        [_struct(LocationCapacityOut, r) for r in found.cuts.locations.iter_rows(named=True)],
        [_struct(SegmentCutOut, r) for r in found.cuts.segments.iter_rows(named=True)],
    )


ROUTES = [StaffPages(buffers_page), Api(api_buffers)]
