"""Row-level scope: a reader whose grants are limited to some scopes sees only rows whose
``scope`` column is one of them; ``None`` means every scope. The same rule applies to every row
a page shows (list rows, hierarchy nodes, sub-account counts, product demand, findings)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, false

# Scopes a reader may see: a set of scope names, or None for every scope.
Scopes = frozenset[str] | None


def scope_condition(table: FromClause, scopes: Scopes) -> list[ColumnElement[bool]]:
    """The row-level scope filter: nothing for every scope, no rows for no scope."""
    if scopes is None:
        return []
    if not scopes:
        return [false()]
    return [table.c.scope.in_(sorted(scopes))]


def visible(scope: str | None, scopes: Scopes) -> bool:
    """Whether a row of ``scope`` is one the reader may see."""
    return scopes is None or scope in scopes
