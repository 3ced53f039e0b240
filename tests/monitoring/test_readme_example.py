"""The README's worked example ("Service performance and alerts") is what the engine computes:
each figure of its table, written there as a fraction, is recomputed from the dozen orders."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from tierline.monitoring.definitions import DEFAULT, KpiDefinition

from .example import example_lines
from .test_engine import totals

README = Path(__file__).parents[2] / "README.md"

# README row -> (definition, KPI column)
ROWS = {
    "unit fill rate": (DEFAULT, "unit_fill_rate"),
    "line fill rate": (DEFAULT, "line_fill_rate"),
    "order fill rate": (DEFAULT, "order_fill_rate"),
    "OTIF per line": (DEFAULT, "otif"),
    "OTIF per order": (KpiDefinition(otif_level="order"), "otif"),
    "perfect order (per order)": (DEFAULT, "perfect_order"),
    "perfect order (product)": (KpiDefinition(perfect_order="product"), "perfect_order"),
    "lead time (days)": (DEFAULT, "lead_time_days"),
    "backorder rate": (DEFAULT, "backorder_rate"),
    "OTIF per line, 2 days late allowed": (KpiDefinition(late_days=2), "otif"),
    "OTIF per line, against the requested date": (KpiDefinition(otif_basis="requested"), "otif"),
}


def readme_figures() -> dict[str, Fraction]:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- worked-example -->")[1].split("<!-- /worked-example -->")[0]
    found = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\d+/\d+", cells[1]):
            found[cells[0]] = Fraction(cells[1])
    return found


def test_the_readme_table_names_every_figure() -> None:
    assert set(readme_figures()) == set(ROWS)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_the_engine_reproduces_the_readme_figure(row: str) -> None:
    definition, kpi = ROWS[row]
    computed = totals(example_lines(), definition)[kpi]
    assert computed == pytest.approx(float(readme_figures()[row]), rel=1e-12), row
