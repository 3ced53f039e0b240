"""Plain geometry for the dashboard's inline SVG charts (no script, no CDN): a line per segment
over the periods with each segment's target in force drawn as a dashed step line, a y axis,
period labels, a legend, and the text alternative naming every figure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 480, 250
TOP, BOTTOM, LEFT, RIGHT = 14, 34, 52, 26
PALETTE = ("#1f6f50", "#3d8bd4", "#8a8f98", "#b5651d", "#7a4ea3", "#c0392b", "#2c3e50")


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str  # "x,y x,y" (gaps where a period had nothing to measure split the line)
    segments: list[str]
    target: str | None  # step line of the target in force per period
    dots: list[tuple[float, float, str]]  # x, y, the value's label (for the title)
    summary: str


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    axis: list[tuple[float, str]]
    labels: list[tuple[float, str]]
    series: list[Series]
    text: str  # the accessible alternative: every value and target


def _fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return "no data"
    return f"{value:.1%}" if percent else f"{value:.1f} days"


def line_chart(
    title: str,
    periods: list[date],
    values: dict[str, list[float | None]],
    targets: dict[str, list[float | None]],
    colours: dict[str, str],
    percent: bool = True,
    label_format: str = "%d %b",
    from_zero: bool = False,
) -> LineChart:
    """One line per key of ``values`` (a segment), aligned with ``periods``."""
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    everything = [v for vs in (*values.values(), *targets.values()) for v in vs if v is not None]
    low, high = (0.0, 1.0)
    if everything:
        low = min(everything)
        high = max(everything)
        if from_zero:
            low = 0.0
        if percent:  # a rate axis from a round floor below the lowest value up to 100 %
            low = max(0.0, (int(low * 10) / 10) - 0.1) if low < 1 else 0.9
            high = 1.0
        else:
            low, high = 0.0, max(high * 1.15, 1.0)
    span = (high - low) or 1.0
    step = plot_w / max(len(periods) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return LEFT + i * step, TOP + plot_h - plot_h * (v - low) / span

    series = []
    for n, (name, vals) in enumerate(values.items()):
        colour = colours.get(name) or PALETTE[n % len(PALETTE)]
        runs: list[list[str]] = [[]]
        dots = []
        for i, v in enumerate(vals):
            if v is None:
                runs.append([])
                continue
            x, y = xy(i, v)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            dots.append((x, y, f"{periods[i].strftime(label_format)} {_fmt(v, percent)}"))
        target = None
        tvals = targets.get(name, [])
        if any(t is not None for t in tvals):
            pts = []
            for i, t in enumerate(tvals):
                if t is None:
                    continue
                x0, y = xy(i, t)
                pts.append(f"{x0 - step / 2 if i else x0:.1f},{y:.1f} {x0 + step / 2:.1f},{y:.1f}")
            target = " ".join(pts)
        summary = ", ".join(
            f"{p.strftime(label_format)} {_fmt(v, percent)}"
            + (f" (target {_fmt(t, percent)})" if t is not None else "")
            for p, v, t in zip(periods, vals, tvals or [None] * len(vals), strict=False)
        )
        series.append(
            Series(name, colour, "", [" ".join(r) for r in runs if r], target, dots, summary)
        )
    ticks = [low + span * f for f in (0.0, 0.5, 1.0)]
    axis = [(xy(0, t)[1], _fmt(t, percent) if percent else f"{t:.0f}") for t in ticks]
    every = max(1, len(periods) // 4)
    labels = [
        (xy(i, low)[0], p.strftime(label_format))
        for i, p in enumerate(periods)
        if (len(periods) - 1 - i) % every == 0
    ]
    text = f"{title}. " + "; ".join(f"{s.name}: {s.summary}" for s in series)
    return LineChart(title, WIDTH, HEIGHT, axis, labels, series, text)
