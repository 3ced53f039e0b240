"""A customer's service performance against its entitlements, from its order lines.

The measures come from monitoring's KPI engine (``monitoring.service.account_performance``),
the same definitions every staff figure uses, computed from the account subtree's order lines
of the window so they are current as soon as lines arrive:

- fill rate: the unit fill rate (delivered units, capped at what was ordered, over ordered
  units of delivered lines);
- OTIF and perfect order as the tenant's KPI definition says (date basis, tolerance, level);
- lead time: mean days from order to delivery.

Each period carries the targets **in force in that period** for the segment the account was in
then (a customer that moved segment sees the old target for the old weeks). Revenue and margin
are never read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import account_subtree
from tierline.monitoring.service import account_performance

Grain = Literal["week", "month"]
GRAINS: tuple[Grain, ...] = ("week", "month")
PERIODS = 12
MEASURES = ("fill_rate", "otif", "perfect_order", "lead_time_days")
LABELS = {
    "fill_rate": "Fill rate",
    "otif": "On time in full",
    "perfect_order": "Perfect order",
    "lead_time_days": "Average lead time (days)",
}
ENGINE_KPI = {
    "fill_rate": "unit_fill_rate",
    "otif": "otif",
    "perfect_order": "perfect_order",
    "lead_time_days": "lead_time_days",
}


@dataclass(frozen=True)
class Period:
    start: date
    lines: int
    delivered_lines: int
    fill_rate: float | None
    otif: float | None
    perfect_order: float | None
    lead_time_days: float | None
    targets: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.start.isoformat(),
            "lines": self.lines,
            "delivered_lines": self.delivered_lines,
            "fill_rate": self.fill_rate,
            "otif": self.otif,
            "perfect_order": self.perfect_order,
            "lead_time_days": self.lead_time_days,
            "targets": dict(self.targets),
        }


def period_starts(grain: Grain, today: date) -> list[date]:
    """The first day of each of the last ``PERIODS`` weeks (Mondays) or months, oldest first."""
    if grain == "week":
        monday = today - timedelta(days=today.weekday())
        return [monday - timedelta(weeks=PERIODS - 1 - i) for i in range(PERIODS)]
    starts: list[date] = []
    year, month = today.year, today.month
    for _ in range(PERIODS):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


async def performance(
    session: AsyncSession, account_code: str, grain: Grain, today: date
) -> list[Period]:
    """Twelve periods of measures for ``account_code`` and the accounts below it, each with
    the targets in force in it."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    starts = period_starts(grain, today)
    codes = [str(c) for c in (await session.execute(account_subtree(account_code))).scalars()]
    frame = await account_performance(session, codes, grain, starts, today)
    found = {} if frame.is_empty() else {r["period_start"]: r for r in frame.iter_rows(named=True)}
    out: list[Period] = []
    for start in starts:
        r = found.get(start)
        if r is None:
            out.append(Period(start, 0, 0, None, None, None, None))
            continue
        lead = r["lead_time_days"]
        out.append(
            Period(
                start,
                int(r["lines"]),
                int(r["delivered_lines"]),
                _clip(r["unit_fill_rate"]),
                _clip(r["otif"]),
                _clip(r["perfect_order"]),
                None if lead is None else round(float(lead), 2),
                {m: r.get(f"{ENGINE_KPI[m]}_target") for m in MEASURES},
            )
        )
    return out


def _clip(value: float | None) -> float | None:
    return None if value is None else round(min(1.0, max(0.0, float(value))), 4)


# ---------------------------------------------------------------------------------------------
# The chart: plain geometry for an inline SVG the template draws (no script, no CDN)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    label: str  # the period, under the bar ("" where a neighbour's label would collide)
    period: str  # the period, always (the text alternative names every bar)
    value: str
    target: str = ""  # the target in force in the period, for the text alternative


@dataclass(frozen=True)
class Chart:
    measure: str
    title: str
    width: int
    height: int
    bar_width: float
    bars: list[Bar]
    target_y: float | None  # the newest period's target (where its label goes)
    target_label: str | None
    target_steps: list[tuple[float, float, float]]  # x1, x2, y: the target in force per period
    axis: list[tuple[float, str]]
    axis_x: float  # where the value labels end (they are right-aligned)
    label_y: float  # the baseline of the period labels


# The chart is drawn for a phone first: its view box is about as wide as a phone's screen, so
# text sized in view-box units reads at its size there (the SVG scales down no further than the
# screen) and grows moderately in the wider cards of a desktop. The stylesheet sizes the text.
WIDTH, HEIGHT = 360, 220
TOP, BOTTOM, LEFT, RIGHT = 22, 30, 44, 18  # room for the labels at either end
LABEL_EVERY = 2  # a period label under every other bar: twelve would overlap on a phone


def chart_for(measure: str, periods: list[Period], target: float | None, grain: Grain) -> Chart:
    """Bars for one measure over the periods, with the target in force in each period drawn
    as a step line (``target``, today's, where a period has none of its own: no lines)."""
    plot = HEIGHT - TOP - BOTTOM
    values = [getattr(p, measure) for p in periods]
    is_ratio = measure != "lead_time_days"
    per_period = [p.targets.get(measure, target) if p.lines else target for p in periods]
    known = [t for t in per_period if t is not None]
    ceiling = 1.0 if is_ratio else max([v or 0 for v in values] + known + [1.0]) * 1.15
    slot = (WIDTH - LEFT - RIGHT) / len(periods)
    bars: list[Bar] = []
    for i, (p, v) in enumerate(zip(periods, values, strict=True)):
        h = 0.0 if v is None else plot * (v / ceiling)
        period = p.start.strftime("%d %b") if grain == "week" else p.start.strftime("%b %y")
        # the newest period is always labelled, then every other one back from it
        shown = period if (len(periods) - 1 - i) % LABEL_EVERY == 0 else ""
        value = "no data" if v is None else (f"{v:.0%}" if is_ratio else f"{v:.1f} days")
        t = per_period[i]
        aim = "" if t is None else (f"{t:.0%}" if is_ratio else f"{t:.0f} days")
        x = LEFT + i * slot + slot * 0.15
        bars.append(Bar(x, TOP + plot - h, h, shown, period, value, aim))

    def y_of(value: float) -> float:
        return TOP + plot - plot * min(value / ceiling, 1.0)

    steps = [
        (LEFT + i * slot, LEFT + (i + 1) * slot, y_of(t))
        for i, t in enumerate(per_period)
        if t is not None
    ]
    newest = per_period[-1] if per_period else target
    target_y = None if newest is None else y_of(newest)
    target_label = None
    if newest is not None:
        target_label = f"target {newest:.0%}" if is_ratio else f"target {newest:.0f} days"
    ticks = [0.0, 0.5, 1.0]
    axis = [
        (TOP + plot - plot * t, f"{t:.0%}" if is_ratio else f"{t * ceiling:.0f}") for t in ticks
    ]
    return Chart(
        measure,
        LABELS[measure],
        WIDTH,
        HEIGHT,
        slot * 0.7,
        bars,
        target_y,
        target_label,
        steps,
        axis,
        LEFT - 6,
        HEIGHT - 10,
    )
