"""Formatting figures for pages, the same way on every page of every domain.

Empty values read as an em dash; times are shown in UTC to the minute; shares as percent with
one decimal; numbers with thousands separators and no decimals when they are whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

EMPTY = "—"


def fmt_number(value: float | int | None, decimals: int = 2) -> str:
    if value is None:
        return EMPTY
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def fmt_share(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.1%}"


def fmt_time(value: datetime | None) -> str:
    return EMPTY if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def compact(value: Any) -> str:
    """A value as one line of text: strings as they are, anything else as sorted JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
