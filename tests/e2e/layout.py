"""Layout checks the browser tests share: no sideways scrolling, nothing cut off, chart labels
readable, and screenshots to look at (``E2E_SCREENSHOTS=/some/dir`` keeps them)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

# Elements whose right edge lies beyond the viewport, or whose content is wider than their box
# (a table cut off inside a scrolling wrapper counts too).
_OVERFLOWS = """() => {
  const width = window.innerWidth;
  const found = [];
  for (const el of document.querySelectorAll('main *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const name = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
      ? '.' + el.className.split(' ').join('.') : '');
    if (box.right > width + 1) found.push(name + ' right=' + Math.round(box.right));
    if (['TABLE', 'DIV', 'SECTION', 'FORM', 'UL', 'OL'].includes(el.tagName)
        && el.scrollWidth > el.clientWidth + 1
        && getComputedStyle(el).overflowX !== 'visible')
      found.push(name + ' scrolls ' + el.scrollWidth + '>' + el.clientWidth);
  }
  return found;
}"""

# Every text of every chart: its rendered font size and whether it lies inside its chart.
_CHART_LABELS = """() => {
  const out = [];
  let chart = 0;
  for (const svg of document.querySelectorAll('svg.pchart')) {
    chart += 1;
    const frame = svg.getBoundingClientRect();
    const scale = frame.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      const box = t.getBoundingClientRect();
      out.push({
        chart: chart,
        text: t.textContent,
        below: t.getAttribute('text-anchor') === 'middle',
        px: parseFloat(getComputedStyle(t).fontSize) * scale,
        inside: box.left >= frame.left - 0.5 && box.right <= frame.right + 0.5
          && box.top >= frame.top - 0.5 && box.bottom <= frame.bottom + 0.5,
        left: box.left, right: box.right,
      });
    }
  }
  return out;
}"""


def screenshot_dir(fallback: Path) -> Path:
    chosen = Path(os.environ.get("E2E_SCREENSHOTS") or fallback)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


async def assert_no_sideways_scroll(page: Any, where: str) -> None:
    width = await page.evaluate("window.innerWidth")
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where}: the page scrolls sideways ({scroll} > {width})"
    overflowing = await page.evaluate(_OVERFLOWS)
    assert not overflowing, f"{where}: cut off or scrolling inside: {overflowing[:8]}"


async def chart_labels(page: Any) -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = await page.evaluate(_CHART_LABELS)
    return labels


async def assert_readable_charts(page: Any, where: str, smallest_px: float = 10.0) -> None:
    labels = await chart_labels(page)
    assert labels, f"{where}: no chart labels"
    small = [f"{x['text']}={x['px']:.1f}px" for x in labels if x["px"] < smallest_px]
    assert not small, f"{where}: chart labels too small to read: {small[:8]}"
    cut = [x["text"] for x in labels if not x["inside"]]
    assert not cut, f"{where}: chart labels cut off at the edge: {cut[:8]}"
    # neighbouring labels under the bars must not run into each other
    for svg_labels in _by_chart(labels):
        below = sorted((x for x in svg_labels if x["below"]), key=lambda x: x["left"])
        for left, right in itertools.pairwise(below):
            assert left["right"] <= right["left"], (where, left["text"], "overlaps", right["text"])


def _by_chart(labels: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    charts: dict[int, list[dict[str, Any]]] = {}
    for label in labels:
        charts.setdefault(int(label["chart"]), []).append(label)
    return list(charts.values())
