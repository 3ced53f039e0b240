"""Filtered, keyset-paginated lists of customers and products, and the filter suggestions.

Lists are keyed on the sort columns, never OFFSET: the sort ends with the unique code (or SKU),
so ``(sort columns) > (last row's values)`` finds the next page with the same cost on page 1
and page 2,000, and a page does not shift while imports add rows. The total is counted only when
cheap: up to :data:`COUNT_CAP` rows (a ``LIMIT`` subquery), so a broad filter costs no more
than a narrow one, and within :data:`COUNT_BUDGET_MS`, past which the page says only what it
proves ("≥ 51 matches"). Rows outside the reader's scopes are never listed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, text, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.browse.query import ListQuery, ListSpec, encode_cursor
from tierline.masterdata.scopes import Scopes, scope_condition

COUNT_CAP = 1000  # counted exactly up to here; beyond, pages say "≥ 1,000"
COUNT_BUDGET_MS = 40  # a total that takes longer to count is not shown exactly
_QUERY_CANCELED = "57014"  # SQLSTATE of a statement stopped by statement_timeout
OPTIONS_SHOWN = 300
OPTIONS_TTL_SECONDS = 300.0
_OPTIONS_MAX_ENTRIES = 2048


@dataclass(frozen=True)
class ListPage:
    """One page of rows in sort order, with cursors for the neighbouring pages (None: none).

    ``matches`` is exact unless ``capped``, in which case at least that many rows match
    (the cap, or what this page proves when counting was too slow).
    """

    rows: list[dict[str, Any]]
    next_cursor: str | None  # pass as ``after``
    prev_cursor: str | None  # pass as ``before``
    matches: int
    capped: bool


def escape_like(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern (``\\`` is the escape character)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(spec: ListSpec, query: ListQuery, scopes: Scopes) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        spec.column(column) == value for column, value in query.equals.items()
    ]
    if query.search is not None:
        # Plain ILIKE on the bare columns: that is what the pg_trgm GIN indexes on code and
        # name serve (``lower(x) LIKE`` would not use them).
        pattern = f"%{escape_like(query.search)}%"
        conds.append(
            or_(
                spec.column(spec.key).ilike(pattern, escape="\\"),
                spec.column(spec.title).ilike(pattern, escape="\\"),
            )
        )
    return conds + scope_condition(spec.table, scopes)


def _beyond(columns: list[ColumnElement[Any]], values: tuple[str, ...], forward: bool) -> Any:
    """Rows after (or before) the cursor in sort order: a row-value comparison."""
    left: Any = columns[0] if len(columns) == 1 else tuple_(*columns)
    right: Any = values[0] if len(values) == 1 else tuple_(*values)
    return left > right if forward else left < right


async def _custom_plans(session: AsyncSession) -> None:
    # asyncpg prepares statements, and PostgreSQL switches a prepared statement to a generic
    # plan after five runs. Filter values differ wildly in selectivity (a region holding most
    # rows, a search string matching three), so a generic plan would be wrong for many of
    # them; planning afresh costs well under a millisecond. Ends with the transaction.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def page_select(spec: ListSpec, query: ListQuery, scopes: Scopes) -> Select[Any]:
    """The SELECT of one page: one row more than the page, to learn whether another follows.

    Paging back (``before``) reads in reverse sort order from the cursor.
    """
    conds = _conditions(spec, query, scopes)
    order = [spec.column(c) for c in spec.sorts[query.sort]]
    backward = query.before is not None
    if query.before is not None:
        conds.append(_beyond(order, query.before, False))
    elif query.after is not None:
        conds.append(_beyond(order, query.after, True))
    return (
        select(*(spec.column(c) for c in spec.columns))
        .where(*conds)
        .order_by(*(c.desc() if backward else c.asc() for c in order))
        .limit(query.limit + 1)
    )


def count_select(spec: ListSpec, conds: list[ColumnElement[bool]]) -> Select[Any]:
    """How many rows match, counting no further than one past :data:`COUNT_CAP`."""
    capped = select(spec.column(spec.key)).where(*conds).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


async def _count(
    session: AsyncSession, spec: ListSpec, conds: list[ColumnElement[bool]]
) -> int | None:
    """Matching rows up to ``COUNT_CAP + 1``; None when counting would exceed the budget.

    Even capped, a count can read the whole table (a rare combination of unindexed filters
    matches few rows, and finding that out means looking at all of them). The total is a
    courtesy, the page is the point: the count runs in a savepoint under a statement timeout,
    and the savepoint is always rolled back (the count wrote nothing), which also undoes the
    timeout, so nothing after it in the unit of work can be cut short.
    """
    conn = await session.connection()
    savepoint = await conn.begin_nested()
    try:
        await conn.execute(text(f"SET LOCAL statement_timeout = {int(COUNT_BUDGET_MS)}"))
        found = (await conn.execute(count_select(spec, conds))).scalar_one()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != _QUERY_CANCELED:
            raise
        return None
    finally:
        await savepoint.rollback()
    return int(found)


def _cursor_of(spec: ListSpec, sort: str, row: Mapping[str, Any]) -> str:
    return encode_cursor(sort, [row[c] for c in spec.sorts[sort]])


async def list_page(
    session: AsyncSession, spec: ListSpec, query: ListQuery, scopes: Scopes
) -> ListPage:
    """One page of matching rows in sort order."""
    await _custom_plans(session)
    stmt = page_select(spec, query, scopes)
    rows = [dict(row._mapping) for row in await session.execute(stmt)]
    if query.before is not None:
        if len(rows) <= query.limit:
            # Paging back reached the start: show a full first page, not a short one.
            return await list_page(session, spec, replace(query, before=None), scopes)
        rows = rows[: query.limit][::-1]
        has_prev = has_next = True  # the extra row lies before; the cursor row after
    else:
        has_next = len(rows) > query.limit
        rows = rows[: query.limit]
        # An ``after`` cursor names the last row of the page before, so that page exists.
        has_prev = query.after is not None
    if not query.paged and not has_next:
        matches, capped = len(rows), False  # the whole result is on this page
    else:
        found = await _count(session, spec, _conditions(spec, query, scopes))
        if found is None:  # too slow to count: say what is certain
            matches, capped = len(rows) + has_next, True
        else:
            matches, capped = min(found, COUNT_CAP), found > COUNT_CAP
    return ListPage(
        rows,
        next_cursor=_cursor_of(spec, query.sort, rows[-1]) if has_next and rows else None,
        prev_cursor=_cursor_of(spec, query.sort, rows[0]) if has_prev and rows else None,
        matches=matches,
        capped=capped,
    )


_options_cache: dict[tuple[str, str, tuple[str, ...] | None], tuple[float, dict[str, list[str]]]]
_options_cache = {}


async def _values_in_use(
    session: AsyncSession, spec: ListSpec, scopes: Scopes
) -> dict[str, list[str]]:
    # One scan with GROUPING SETS instead of a DISTINCT per column (a third of the time on
    # 100k rows). Each result row carries the value of one set's column, the others NULL.
    fields = [f for f in spec.filters if f.kind == "text" and f.suggest]
    if not fields:
        return {}
    columns = [spec.column(f.target) for f in fields]
    stmt = (
        select(*columns)
        .where(*scope_condition(spec.table, scopes))
        .group_by(func.grouping_sets(*columns))
    )
    found: list[set[str]] = [set() for _ in fields]
    for row in await session.execute(stmt):
        for values, value in zip(found, row, strict=True):
            if value is not None:
                values.add(value)
    return {f.key: sorted(v)[:OPTIONS_SHOWN] for f, v in zip(fields, found, strict=True)}


async def filter_options(
    session: AsyncSession, spec: ListSpec, scopes: Scopes, cache_key: str
) -> dict[str, list[str]]:
    """The values in use for each suggested text filter, for the page's datalists.

    A DISTINCT over a large table is not free, and suggestions may lag behind imports without
    harm (any value can still be typed), so they are kept a few minutes per tenant and scope
    set (``cache_key`` names the tenant).
    """
    key = (cache_key, spec.entity, tuple(sorted(scopes)) if scopes is not None else None)
    now = time.monotonic()
    hit = _options_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    options = await _values_in_use(session, spec, scopes)
    if len(_options_cache) >= _OPTIONS_MAX_ENTRIES:
        _options_cache.clear()
    _options_cache[key] = (now + OPTIONS_TTL_SECONDS, options)
    return options
