"""CSV cells that a spreadsheet will not run as formulas (CSV / formula injection).

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (OWASP adds a leading tab and carriage return), so a value such as
``=HYPERLINK(...)`` typed into any field could run on an auditor's machine when they open an
export. Following OWASP's advice such cells get a leading single quote: the spreadsheet shows
the text as typed, and a program reading the file still sees exactly what was stored, behind
one quote. Every export and import in Tierline writes its cells through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# OWASP's list, plus the full-width forms of the four operators: East Asian locales of Excel
# treat those as the ASCII ones when a cell is typed in, so they are quoted too.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A plain number (``-12``, ``+3.5``, ``-1.2e-3``, ``-1,234.5``, ``-1,5``) is data, not a
# formula: digits and separators alone cannot call anything, whatever the spreadsheet's locale.
_NUMBER = re.compile(r"^[+-]?\d[\d.,]*(?:[eE][+-]?\d+)?$")


def safe_csv_cell(value: object) -> str:
    """``value`` as CSV cell text; prefixed with ``'`` if a spreadsheet would run it.

    ``None`` is the empty cell. A negative (or explicitly signed) plain number stays a number:
    only text that a spreadsheet would evaluate as a formula is quoted.
    """
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # numbers are never formulas
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _NUMBER.match(text):
        return "'" + text
    return text


def safe_csv_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row through :func:`safe_csv_cell`."""
    return [safe_csv_cell(v) for v in values]
