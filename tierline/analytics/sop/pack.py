"""The monthly S&OP pack: an XLSX workbook with one sheet per view and a PDF summary with
charts, for one month, one reader's scopes and masking.

Views: segment mix and moves (customers per segment at the month's end, moved in and out in
the month), KPI attainment by segment (the KPI engine's figures with the targets in force),
cost-to-serve by segment (money masked where the reader may not see it), inventory targets
against actuals where an inventory policy run is in force (per product segment, the
SKU-locations whose newest on-hand lies below safety stock, below the reorder point, above the
order-up-to level: counts, since units of different products do not add up), open alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tierline.analytics.cohorts.panel import add_months
from tierline.analytics.cost_to_serve.figures import Window, cost_to_serve
from tierline.analytics.exports import COST_HEADER, cost_values, xlsx_file
from tierline.analytics.schemas import cost_rows
from tierline.analytics.settings_store import read_choices
from tierline.inventory.service import latest_policy_results
from tierline.masterdata.service import latest_positions
from tierline.monitoring.service import KPI_LABELS, alert_dict, attainment_by_segment, list_alerts
from tierline.platform.pdf import FAMILY, unicode_pdf
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import customer_segment_history

MASKED_NOTE = "Money figures are masked for this reader."
INVENTORY_NOTE = "Inventory targets against actuals: no inventory policy run is in force"


@dataclass(frozen=True)
class Pack:
    month: date
    xlsx: bytes
    pdf: bytes
    summary: str  # one line without money, for lists and e-mails
    masked: bool


def _mix(history: pl.DataFrame, month: date) -> pl.DataFrame:
    """Per segment: customers in it at the month's end, moved in and out during the month."""
    stamp = pl.Datetime("us", "UTC")
    start = pl.lit(month).cast(stamp)
    end = pl.lit(add_months(month, 1)).cast(stamp)
    at_end = history.filter(
        (pl.col("valid_from") < end) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= end))
    )
    spans = history.sort("customer_code", "valid_from").with_columns(
        pl.col("segment").shift(1).over("customer_code").alias("from_segment")
    )
    moved = spans.filter(
        (pl.col("valid_from") >= start)
        & (pl.col("valid_from") < end)
        & pl.col("from_segment").is_not_null()
        & (pl.col("from_segment") != pl.col("segment"))
    )
    counts = at_end.group_by("segment").agg(pl.len().alias("customers"))
    moved_in = moved.group_by("segment").agg(pl.len().alias("moved_in"))
    moved_out = moved.group_by(pl.col("from_segment").alias("segment")).agg(
        pl.len().alias("moved_out")
    )
    return (
        counts.join(moved_in, on="segment", how="full", coalesce=True)
        .join(moved_out, on="segment", how="full", coalesce=True)
        .with_columns(pl.col("customers", "moved_in", "moved_out").fill_null(0))
        .sort("segment")
    )


def inventory_view(results: pl.DataFrame, positions: pl.DataFrame) -> pl.DataFrame:
    """Per product segment: SKU-locations with a policy, with a position, and how many lie
    below safety stock, below the reorder point, above the order-up-to level (pure)."""
    joined = results.join(positions, on=["sku", "location_code"], how="left")
    on_hand = pl.col("on_hand")
    return (
        joined.group_by(pl.col("segment_code").fill_null("(none)").alias("segment"))
        .agg(
            pl.len().alias("sku_locations"),
            on_hand.is_not_null().sum().alias("with_position"),
            (on_hand < pl.col("safety_stock")).sum().alias("below_safety_stock"),
            (on_hand < pl.col("reorder_point")).sum().alias("below_reorder_point"),
            (on_hand > pl.col("order_up_to")).sum().alias("above_order_up_to"),
        )
        .sort("segment")
    )


def _frame_rows(frame: pl.DataFrame) -> tuple[list[str], list[list[Any]]]:
    header = frame.columns
    rows = [[v.isoformat() if isinstance(v, date) else v for v in row] for row in frame.iter_rows()]
    return header, rows


def _pdf(
    month: date,
    masked: bool,
    mix: pl.DataFrame,
    segments: list[Any],
    kpis: pl.DataFrame,
    alerts: list[dict[str, Any]],
    inventory: pl.DataFrame | None,
) -> bytes:
    pdf = unicode_pdf()
    pdf.add_page()
    pdf.set_font(FAMILY, size=16)
    pdf.cell(0, 10, f"S&OP pack — {month:%B %Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    pdf.multi_cell(
        0,
        5,
        "Segment mix and moves, KPI attainment, cost to serve and open alerts. "
        + (MASKED_NOTE if masked else "Amounts in the tenant's currency."),
    )
    _bar_chart(
        pdf,
        "Customers per segment at the month's end",
        [(str(r["segment"]), float(r["customers"])) for r in mix.iter_rows(named=True)],
    )
    if not masked:
        _bar_chart(
            pdf,
            "Margin after cost to serve per segment",
            [(r.segment or "", (r.margin_after_cts_minor or 0) / 100) for r in segments],
        )
    pdf.set_font(FAMILY, size=12)
    pdf.cell(0, 8, "KPI attainment by segment", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    met = [c for c in kpis.columns if c.endswith("_met")]
    if kpis.is_empty() or not met:
        pdf.cell(0, 5, "No KPI figures for this month.", new_x="LMARGIN", new_y="NEXT")
    for row in kpis.iter_rows(named=True):
        parts = [f"{KPI_LABELS.get(c[:-4], c[:-4])}: {_met(row[c])}" for c in met]
        pdf.multi_cell(
            0, 5, f"{row['segment']}: " + "; ".join(parts), new_x="LMARGIN", new_y="NEXT"
        )
    pdf.set_font(FAMILY, size=12)
    pdf.cell(0, 8, f"Open alerts: {len(alerts)}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    for a in alerts[:20]:
        pdf.multi_cell(
            0,
            5,
            f"{a['segment']} · {a['kpi_label']}: {a['detail'] or a['rule']}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    if inventory is None:
        pdf.multi_cell(0, 5, INVENTORY_NOTE, new_x="LMARGIN", new_y="NEXT")
    else:
        _bar_chart(
            pdf,
            "SKU-locations below safety stock per product segment",
            [
                (str(r["segment"]), float(r["below_safety_stock"]))
                for r in inventory.iter_rows(named=True)
            ],
        )
    return bytes(pdf.output())


def _met(value: object) -> str:
    return "—" if value is None else "met" if value else "missed"


def _bar_chart(pdf: Any, title: str, bars: list[tuple[str, float]]) -> None:
    """Horizontal bars with the value at each bar's end and a zero axis (text in the title
    and labels, so the chart reads without colour)."""
    pdf.set_font(FAMILY, size=12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    if not bars:
        pdf.cell(0, 5, "No data.", new_x="LMARGIN", new_y="NEXT")
        return
    biggest = max(abs(v) for _, v in bars) or 1.0
    left, width, y = pdf.l_margin + 30, 120.0, pdf.get_y() + 1
    zero = left + (width / 2 if any(v < 0 for _, v in bars) else 0)
    span = width / 2 if zero > left else width
    for label, value in bars:
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(28, 5, label[:18])
        length = span * abs(value) / biggest
        x = zero if value >= 0 else zero - length
        pdf.set_fill_color(61, 139, 212)
        pdf.rect(x, y + 0.5, max(length, 0.3), 4, style="F")
        pdf.set_xy(zero + (length if value >= 0 else 0) + 1, y)
        pdf.cell(30, 5, f"{value:,.0f}")
        y += 6
    pdf.line(zero, pdf.get_y() - 6 * len(bars) + 1, zero, y)
    pdf.set_xy(pdf.l_margin, y + 2)


async def build_pack(
    runtime: Runtime,
    tenant: TenantRef,
    month: date,
    scopes: frozenset[str] | None,
    masked: bool,
) -> Pack:
    """The pack of ``month`` for a reader of ``scopes`` (None: all) and masking."""
    month = month.replace(day=1)
    report = await cost_to_serve(runtime, tenant, Window.of(month, month), scopes)
    async with tenant_session(tenant, runtime.databases) as session:
        scheme = (await read_choices(session)).scheme_code
        conn = await session.connection()
        history = (
            await customer_segment_history(conn, scheme)
            if scheme
            else pl.DataFrame(
                schema={
                    "customer_code": pl.String,
                    "segment": pl.String,
                    "valid_from": pl.Datetime("us", "UTC"),
                    "valid_to": pl.Datetime("us", "UTC"),
                }
            )
        )
        kpis = await attainment_by_segment(session, "month", since=month, until=month)
        run_id, results = await latest_policy_results(session)
        inventory = (
            inventory_view(results, await latest_positions(conn)) if run_id is not None else None
        )
        alerts = [alert_dict(a) for a in await list_alerts(session, "live")]
    mix = _mix(history, month)
    segments = cost_rows(report.by_segment, masked)
    kpi_header, kpi_rows = (
        _frame_rows(kpis)
        if not kpis.is_empty()
        else (["note"], [["no KPI figures for this month"]])
    )
    alert_header = ["segment", "kpi_label", "state", "periods_below", "detail", "opened_at"]
    sheets = [
        ("segment mix and moves", *_frame_rows(mix)),
        ("KPI attainment", kpi_header, kpi_rows),
        ("cost to serve", COST_HEADER, [cost_values(r, as_text=False) for r in segments]),
        (
            "inventory",
            *(_frame_rows(inventory) if inventory is not None else (["note"], [[INVENTORY_NOTE]])),
        ),
        (
            "open alerts",
            alert_header,
            [[str(a[k]) if a[k] is not None else None for k in alert_header] for a in alerts],
        ),
    ]
    xlsx = xlsx_file(sheets)  # type: ignore[arg-type]
    pdf = _pdf(month, masked, mix, segments, kpis, alerts, inventory)
    moved = int(mix["moved_in"].sum()) if mix.height else 0
    summary = (
        f"{month:%B %Y}: {int(mix['customers'].sum()) if mix.height else 0} customers in "
        f"{mix.height} segments, {moved} moved; {len(alerts)} open alerts"
    )
    return Pack(month, xlsx, pdf, summary, masked)
