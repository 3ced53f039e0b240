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
        ("+1+1", "'+1+1"),
        ("-1+A1", "'-1+A1"),
        ("-2-3", "'-2-3"),
        ("-SUM(A1:A9)", "'-SUM(A1:A9)"),
        ("+A1", "'+A1"),
        ("-1e5e", "'-1e5e"),
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


@pytest.mark.parametrize(
    "value", ["-1", "+1", "-12.50", "-1,234.5", "-1,5", "-1.2e-3", "+3E+4", "-0"]
)
def test_signed_numbers_stay_numbers(value: str) -> None:
    """A negative quantity or amount must still add up in a spreadsheet."""
    assert safe_csv_cell(value) == value


def test_non_strings() -> None:
    assert safe_csv_cell(None) == ""
    assert safe_csv_cell(42) == "42"
    assert safe_csv_cell(-5) == "-5"  # a negative number stays a number
    assert safe_csv_cell(-2.5) == "-2.5"
    assert safe_csv_cell(1.5) == "1.5"
    assert safe_csv_cell(True) == "True"


def test_row_round_trips_through_the_csv_module() -> None:
    row = safe_csv_row(["=1+2", 'quote " and, comma', None, "-x\nnext line"])
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    parsed = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert parsed == ["'=1+2", 'quote " and, comma', "", "'-x\nnext line"]
