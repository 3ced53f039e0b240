"""API structs of service performance (msgspec, so OpenAPI documents them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
import polars as pl

from tierline.monitoring.engine import KPIS, TARGET_OF


class KpiValues(msgspec.Struct, kw_only=True):
    """Each KPI (rates are fractions 0..1, lead time in days); null where nothing was
    measurable. ``targets`` / ``met`` only where the row is one segment and one period."""

    unit_fill_rate: float | None
    line_fill_rate: float | None
    order_fill_rate: float | None
    otif: float | None
    perfect_order: float | None
    lead_time_days: float | None
    backorder_rate: float | None


class KpiRow(msgspec.Struct, kw_only=True):
    """One group of a KPI series: its keys (the ``by`` dimensions), counts and KPIs."""

    keys: dict[str, str]
    period_start: date | None = None
    lines: int
    orders: int
    delivered_lines: int
    kpis: KpiValues
    targets: dict[str, float | None] | None = None
    met: dict[str, bool | None] | None = None
    data_quality: dict[str, int]


class KpiSeries(msgspec.Struct, kw_only=True):
    grain: str
    by: list[str]
    definition_version: int
    rows: list[KpiRow]


class AlertOut(msgspec.Struct, kw_only=True):
    id: int
    scheme_code: str
    segment: str
    kpi: str
    kpi_label: str
    grain: str
    rule: str
    state: str
    first_period: date
    last_period: date
    periods_below: int
    value: float | None
    target: float | None
    step_reached: int
    detail: str
    opened_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledge_reason: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolve_reason: str | None


class AlertDecision(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the alert is acknowledged (what is being done) or resolved."""

    reason: str


class RefreshRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``full``: recompute every period (after master data such as regions changed)."""

    full: bool = False


class RefreshQueued(msgspec.Struct, kw_only=True):
    job_id: str
    status: str


DQ = (
    "dq_delivered_before_order",
    "dq_over_delivered",
    "dq_missing_due_date",
    "dq_missing_quantity",
)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def rows_of(frame: pl.DataFrame, by: list[str]) -> list[KpiRow]:
    """The frame ``figures`` returns, as API rows."""
    targeted = "otif_met" in frame.columns
    out = []
    for r in frame.iter_rows(named=True):
        out.append(
            KpiRow(
                keys={d: str(r[d]) for d in by if d != "period_start"},
                period_start=r.get("period_start"),
                lines=int(r["lines"]),
                orders=int(r["orders"]),
                delivered_lines=int(r["delivered_lines"]),
                kpis=KpiValues(**{k: _number(r[k]) for k in KPIS}),
                targets={k: _number(r[f"{k}_target"]) for k in TARGET_OF} if targeted else None,
                met={k: r[f"{k}_met"] for k in TARGET_OF} if targeted else None,
                data_quality={d: int(r[d]) for d in DQ},
            )
        )
    return out


def alert_out(data: dict[str, Any]) -> AlertOut:
    return msgspec.convert(data, AlertOut, from_attributes=True)


class SpikeMoveReviewOut(msgspec.Struct, kw_only=True):
    """A move a demand spike drove and what came after: ``effect`` is ``applied`` or ``held``
    (pending, rejected or superseded); ``verdict`` one of ``reverted`` (applied, then back in
    the segment it left: a false positive), ``kept``, ``moved_later`` (held, then moved to the
    spike's segment anyway) or ``stayed``; ``kpi`` summed over ``periods`` periods of ``grain``
    before and from the move's period (null where the customer had no measurable lines);
    attainment as ``met_*`` of ``measured_*`` segment-periods on the target in force (KPIs
    with a target only)."""

    move_id: int
    scheme_code: str
    entity_key: str
    customer_code: str | None
    from_segment: str | None
    to_segment: str
    status: str
    effect: str
    moved_at: datetime
    later_segments: list[str]
    verdict: str
    verdict_label: str
    kpi: str
    grain: str
    periods: int
    kpi_before: float | None
    kpi_after: float | None
    kpi_change: float | None
    lines_before: int
    lines_after: int
    met_before: int
    measured_before: int
    met_after: int
    measured_after: int


def spike_reviews_out(
    rows: pl.DataFrame, kpi: str, grain: str, periods: int, labels: dict[str, str]
) -> list[SpikeMoveReviewOut]:
    return [
        SpikeMoveReviewOut(
            move_id=r["move_id"],
            scheme_code=r["scheme_code"],
            entity_key=r["entity_key"],
            customer_code=r["customer_code"],
            from_segment=r["from_segment"],
            to_segment=r["to_segment"],
            status=r["status"],
            effect=r["effect"],
            moved_at=r["moved_at"],
            later_segments=list(r["later_segments"]),
            verdict=r["verdict"],
            verdict_label=labels[r["verdict"]],
            kpi=kpi,
            grain=grain,
            periods=periods,
            kpi_before=r["kpi_before"],
            kpi_after=r["kpi_after"],
            kpi_change=r["kpi_change"],
            lines_before=r["lines_before"],
            lines_after=r["lines_after"],
            met_before=r["met_before"],
            measured_before=r["measured_before"],
            met_after=r["met_after"],
            measured_after=r["measured_after"],
        )
        for r in rows.iter_rows(named=True)
    ]
