"""CSV cells that a spreadsheet will not run as formulas (CSV / formula injection).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (OWASP adds a leading tab and carriage return), so a value such as
``=HYPERLINK(...)`` typed into any field could run on an auditor's machine when they open an
export. Following OWASP's advice such cells get a leading single quote: the spreadsheet shows
the text as typed, and a program reading the file still sees exactly what was stored, behind
one quote. Every export and import in Tierline writes its cells through here.
"""

from __future__ import annotations

from collections.abc import Iterable

# OWASP's list, plus the full-width forms of the four operators: East Asian locales of Excel
# treat those as the ASCII ones when a cell is typed in, so they are quoted too.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_csv_cell(value: object) -> str:
    """``value`` as CSV cell text; prefixed with ``'`` if a spreadsheet would run it.

    ``None`` is the empty cell. Numbers go through the same rule, so a negative number is
    quoted as well: exports favour being inert over being arithmetic-ready.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def safe_csv_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row through :func:`safe_csv_cell`."""
    return [safe_csv_cell(v) for v in values]
