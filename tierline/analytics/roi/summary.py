"""Per segment, what changed between a baseline period the tenant picks and a comparison
period: service (the share of KPI targets met, month by month, and the KPI values) and
cost-to-serve (its share of revenue, margin after it). Inventory is not compared yet: the
inventory domain publishes the policy run in force only, not the one of a past baseline (the
summary says so).

The two periods must not overlap: a month in both would count on both sides of the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from tierline.analytics.cost_to_serve.figures import (
    CostToServe,
    Window,
    WindowRefused,
    cost_to_serve,
)
from tierline.monitoring.service import TARGET_OF, attainment_by_segment
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

SERVICE_KPIS: Final = tuple(TARGET_OF)  # the KPIs with a target to meet
INVENTORY_NOTE: Final = "inventory: not compared (no policy of the baseline period to compare with)"


@dataclass(frozen=True)
class SegmentRoi:
    segment: str
    attainment_before: float | None  # share of (month, KPI) targets met
    attainment_after: float | None
    kpis_before: dict[str, float | None]
    kpis_after: dict[str, float | None]
    cts_share_before: float | None  # cost-to-serve / revenue
    cts_share_after: float | None
    margin_after_cts_before: int | None  # cents
    margin_after_cts_after: int | None

    @property
    def attainment_change(self) -> float | None:
        if self.attainment_before is None or self.attainment_after is None:
            return None
        return self.attainment_after - self.attainment_before

    @property
    def cts_share_change(self) -> float | None:
        if self.cts_share_before is None or self.cts_share_after is None:
            return None
        return self.cts_share_after - self.cts_share_before


@dataclass(frozen=True)
class Roi:
    baseline: Window
    comparison: Window
    segments: list[SegmentRoi]
    notes: list[str]


def check_periods(baseline: Window, comparison: Window) -> None:
    if baseline.overlaps(comparison):
        raise WindowRefused(
            f"the baseline ({baseline.first:%Y-%m} to {baseline.last:%Y-%m}) and the comparison "
            f"({comparison.first:%Y-%m} to {comparison.last:%Y-%m}) overlap: a month in both "
            "would count on both sides of the change"
        )


def attainment(frame: pl.DataFrame) -> dict[str, tuple[float | None, dict[str, float | None]]]:
    """Per segment: the share of (month, KPI) cells whose target was met (cells without a
    target left out), and each KPI's mean over the months."""
    out: dict[str, tuple[float | None, dict[str, float | None]]] = {}
    if frame.is_empty():
        return out
    met = [f"{k}_met" for k in SERVICE_KPIS if f"{k}_met" in frame.columns]
    for segment, group in frame.group_by("segment"):
        cells = [v for c in met for v in group[c].to_list() if v is not None]
        share = sum(bool(v) for v in cells) / len(cells) if cells else None
        values = {
            k: (float(m) if (m := group[k].mean()) is not None else None)  # type: ignore[arg-type]
            for k in SERVICE_KPIS
            if k in group.columns
        }
        out[str(segment[0])] = (share, values)
    return out


def _money(report: CostToServe) -> dict[str, tuple[float | None, int | None]]:
    return {
        r["segment"]: (r["cts_share"], r["margin_after_cts"])
        for r in report.by_segment.iter_rows(named=True)
    }


def combine(
    baseline: Window,
    comparison: Window,
    service: tuple[dict[str, tuple[float | None, dict[str, float | None]]], ...],
    money: tuple[dict[str, tuple[float | None, int | None]], ...],
) -> Roi:
    """The summary from each period's service and money figures (pure)."""
    (s0, s1), (m0, m1) = service, money
    segments = sorted(set(s0) | set(s1) | set(m0) | set(m1))
    rows = []
    for seg in segments:
        a0, k0 = s0.get(seg, (None, {}))
        a1, k1 = s1.get(seg, (None, {}))
        c0, g0 = m0.get(seg, (None, None))
        c1, g1 = m1.get(seg, (None, None))
        rows.append(SegmentRoi(seg, a0, a1, k0, k1, c0, c1, g0, g1))
    return Roi(baseline, comparison, rows, [INVENTORY_NOTE])


async def roi_summary(
    runtime: Runtime,
    tenant: TenantRef,
    baseline: Window,
    comparison: Window,
    scopes: frozenset[str] | None = None,
) -> Roi:
    check_periods(baseline, comparison)
    async with tenant_session(tenant, runtime.databases) as session:
        before = attainment(
            await attainment_by_segment(session, "month", since=baseline.first, until=baseline.last)
        )
        after = attainment(
            await attainment_by_segment(
                session, "month", since=comparison.first, until=comparison.last
            )
        )
    money = (
        _money(await cost_to_serve(runtime, tenant, baseline, scopes)),
        _money(await cost_to_serve(runtime, tenant, comparison, scopes)),
    )
    return combine(baseline, comparison, (before, after), money)
