"""CSV cells never run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io

import pytest

from tierline.platform.csv_safety import safe_csv_cell, safe_csv_row


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),  # full-width equals sign
    ],
)
def test_formula_triggers_are_quoted(value: str, expected: str) -> None:
    assert safe_csv_cell(value) == expected


@pytest.mark.parametrize(
    "value",
    ["plain", "a=b", "1+1", "user@example.com", " =not-first", "'already", "", "é-accent"],
)
def test_harmless_text_is_unchanged(value: str) -> None:
    assert safe_csv_cell(value) == value


def test_non_strings() -> None:
    assert safe_csv_cell(None) == ""
    assert safe_csv_cell(42) == "42"
    assert safe_csv_cell(-5) == "'-5"  # a negative number is inert text, by design
    assert safe_csv_cell(1.5) == "1.5"


def test_row_round_trips_through_the_csv_module() -> None:
    row = safe_csv_row(["=1+2", 'quote " and, comma', None, "-x\nnext line"])
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    parsed = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert parsed == ["'=1+2", 'quote " and, comma', "", "'-x\nnext line"]
