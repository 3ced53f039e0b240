"""A customer's service performance against its entitlements, from its order lines.

All four measures are aggregated in PostgreSQL (one GROUP BY over master data's order lines of
the account's subtree in the window), so the cost does not grow with Python loops over lines:

- fill rate: delivered quantity / ordered quantity over delivered lines, each line capped at
  what was ordered;
- OTIF: delivered lines delivered on or before the promised date (the requested date when
  nothing was promised) with the full quantity, over delivered lines that have such a date;
- perfect order: OTIF, not damaged and with correct documentation, same denominator;
- lead time: mean days from order to delivery.

Revenue and margin are never read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Date, Float, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import account_order_lines

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


@dataclass(frozen=True)
class Period:
    start: date
    lines: int
    delivered_lines: int
    fill_rate: float | None
    otif: float | None
    perfect_order: float | None
    lead_time_days: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.start.isoformat(),
            "lines": self.lines,
            "delivered_lines": self.delivered_lines,
            "fill_rate": self.fill_rate,
            "otif": self.otif,
            "perfect_order": self.perfect_order,
            "lead_time_days": self.lead_time_days,
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


def _ratio(numerator: Any, denominator: Any) -> Any:
    return cast(numerator, Float()) / func.nullif(denominator, 0)


async def performance(
    session: AsyncSession, account_code: str, grain: Grain, today: date
) -> list[Period]:
    """Twelve periods of measures for ``account_code`` and the accounts below it."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    starts = period_starts(grain, today)
    line = account_order_lines(account_code, starts[0], today).c
    period = cast(func.date_trunc(grain, line.order_date), Date).label("period")
    delivered = line.delivered_date.is_not(None)
    due = func.coalesce(line.promised_date, line.requested_date)
    got = func.coalesce(line.delivered_quantity, 0)
    judged = and_(delivered, due.is_not(None))
    otif = and_(judged, line.delivered_date <= due, got >= line.quantity)
    perfect = and_(otif, line.damaged.is_(False), line.documentation_ok.is_(True))
    rows = await session.execute(
        select(
            period,
            func.count().label("lines"),
            func.count().filter(delivered).label("delivered_lines"),
            _ratio(
                func.sum(func.least(got, line.quantity)).filter(delivered),
                func.sum(line.quantity).filter(delivered),
            ).label("fill_rate"),
            _ratio(func.count().filter(otif), func.count().filter(judged)).label("otif"),
            _ratio(func.count().filter(perfect), func.count().filter(judged)).label("perfect"),
            cast(
                func.avg(line.delivered_date - line.order_date).filter(delivered),
                Float(),
            ).label("lead_time"),
        ).group_by(period)
    )
    found = {r.period: r for r in rows.all()}
    out: list[Period] = []
    for start in starts:
        r = found.get(start)
        if r is None:
            out.append(Period(start, 0, 0, None, None, None, None))
            continue
        out.append(
            Period(
                start,
                int(r.lines),
                int(r.delivered_lines),
                _clip(r.fill_rate),
                _clip(r.otif),
                _clip(r.perfect),
                None if r.lead_time is None else round(float(r.lead_time), 2),
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


@dataclass(frozen=True)
class Chart:
    measure: str
    title: str
    width: int
    height: int
    bar_width: float
    bars: list[Bar]
    target_y: float | None
    target_label: str | None
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
    """Bars for one measure over the periods; ``target`` (a fraction, or days for lead time)
    is drawn as a line."""
    plot = HEIGHT - TOP - BOTTOM
    values = [getattr(p, measure) for p in periods]
    is_ratio = measure != "lead_time_days"
    ceiling = 1.0 if is_ratio else max([v or 0 for v in values] + [target or 0, 1.0]) * 1.15
    slot = (WIDTH - LEFT - RIGHT) / len(periods)
    bars: list[Bar] = []
    for i, (p, v) in enumerate(zip(periods, values, strict=True)):
        h = 0.0 if v is None else plot * (v / ceiling)
        period = p.start.strftime("%d %b") if grain == "week" else p.start.strftime("%b %y")
        # the newest period is always labelled, then every other one back from it
        shown = period if (len(periods) - 1 - i) % LABEL_EVERY == 0 else ""
        value = "no data" if v is None else (f"{v:.0%}" if is_ratio else f"{v:.1f} days")
        bars.append(Bar(LEFT + i * slot + slot * 0.15, TOP + plot - h, h, shown, period, value))
    target_y = None if target is None else TOP + plot - plot * min(target / ceiling, 1.0)
    target_label = None
    if target is not None:
        target_label = f"target {target:.0%}" if is_ratio else f"target {target:.0f} days"
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
        axis,
        LEFT - 6,
        HEIGHT - 10,
    )
