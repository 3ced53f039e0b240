"""Masking of margin, cost and revenue values for roles without ``margin:read``.

JSON carries ``null`` plus a ``masked: true`` flag, so clients can tell "hidden" from "empty";
pages show :data:`MASKED`. Callers that already know the role may not see a value should skip
decrypting it at all; these helpers only decide what to emit.
"""

from __future__ import annotations

from typing import TypeVar

_V = TypeVar("_V")

# What a page shows in place of a value the viewer may not see.
MASKED = "•••"


def mask_value(value: _V, allowed: bool) -> tuple[_V | None, bool]:
    """``(value, False)`` when the viewer may see it, else ``(None, True)``, for JSON output."""
    if allowed:
        return value, False
    return None, True


def page_value(value: _V, allowed: bool) -> _V | str:
    """The value for a page cell, or :data:`MASKED` when the viewer may not see it."""
    return value if allowed else MASKED
