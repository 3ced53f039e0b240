"""Reading the audit log: a filtered, keyset-paginated listing and a streaming iterator.

Pages are keyed on ``seq``, never OFFSET: ``seq`` is the chain order and, because appends
queue on the head row, also time order. So page 1,000 costs what page 1 costs on a log of
millions of entries, and a page never shifts while new entries arrive.

Filter input comes from query strings (a GET form, the JSON API, a CSV link); it is parsed here
once, and a value that does not parse is refused with an error naming its field.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.models import AuditLog
from tierline.platform.errors import DomainError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_BATCH = 1000

# Query-string keys, in the order forms and links show them.
FILTER_KEYS = ("actor", "action", "object_type", "object_id", "from", "to")
PAGE_KEYS = ("before", "after", "limit")

# The column widths; ``action`` may carry one more character, the ``*`` of a prefix search.
_MAX_LENGTH = {"actor": 320, "action": 101, "object_type": 100, "object_id": 500}
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_HINT = "use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC unless an offset is given)"

_LOG = AuditLog.__table__


class InvalidAuditQuery(DomainError):
    """A filter or paging value that does not parse; ``field`` names the query key."""

    status_code = 422
    title = "Invalid audit query"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class AuditFilters:
    """Parsed filters. ``params`` keeps the cleaned input to echo into forms and links."""

    actor: str | None = None  # case-insensitive substring
    action: str | None = None  # exact
    action_prefix: str | None = None  # from ``action=prefix*``
    object_type: str | None = None
    object_id: str | None = None
    at_from: datetime | None = None  # inclusive
    at_until: datetime | None = None  # exclusive
    params: dict[str, str] = field(default_factory=dict)

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.actor is not None:
            conds.append(AuditLog.actor.icontains(self.actor, autoescape=True))
        if self.action is not None:
            conds.append(AuditLog.action == self.action)
        if self.action_prefix is not None:
            conds.append(AuditLog.action.startswith(self.action_prefix, autoescape=True))
        if self.object_type is not None:
            conds.append(AuditLog.object_type == self.object_type)
        if self.object_id is not None:
            conds.append(AuditLog.object_id == self.object_id)
        if self.at_from is not None:
            conds.append(AuditLog.at >= self.at_from)
        if self.at_until is not None:
            conds.append(AuditLog.at < self.at_until)
        return conds


@dataclass(frozen=True)
class PageRequest:
    """At most one cursor: ``before`` pages to older entries, ``after`` to newer ones."""

    before: int | None = None
    after: int | None = None
    limit: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class AuditRecord:
    """One stored entry, detached from any session."""

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any
    reason: str | None
    request_id: str | None
    client_ip: str | None
    prev_hash: bytes
    hash: bytes

    @property
    def hash_hex(self) -> str:
        return bytes(self.hash).hex()

    @property
    def prev_hash_hex(self) -> str:
        return bytes(self.prev_hash).hex()


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first, with the cursors of the neighbouring pages (None: no such page)."""

    entries: list[AuditRecord]
    newer: int | None  # pass as ``after``
    older: int | None  # pass as ``before``


# ---------------------------------------------------------------------------------------------
# Parsing


def clean_params(raw: Mapping[str, str | None], keys: tuple[str, ...]) -> dict[str, str]:
    """The non-blank values of ``keys``, stripped (a blank form field means "no filter")."""
    cleaned: dict[str, str] = {}
    for key in keys:
        value = raw.get(key)
        if value is not None and value.strip():
            cleaned[key] = value.strip()
    return cleaned


def _text(key: str, value: str) -> str:
    if len(value) > _MAX_LENGTH[key]:
        raise InvalidAuditQuery(key, f"must be at most {_MAX_LENGTH[key]} characters")
    # PostgreSQL text cannot hold NUL; other control characters are never in a real value.
    if any(ord(ch) < 32 for ch in value):
        raise InvalidAuditQuery(key, "must not contain control characters")
    return value


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def parse_time(key: str, value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO-8601 date or date-time as an aware UTC datetime; naive input means UTC.

    A bare date is the start of that day, or with ``end_of_day`` the start of the next one
    (so ``to=2026-03-31`` includes the whole of 31 March).
    """
    try:
        if _DATE_ONLY.fullmatch(value):
            start = datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise InvalidAuditQuery(
            key, f"{_quoted(value)} is not a date or time; {_TIME_HINT}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _time_range(params: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    at_from = parse_time("from", params["from"]) if "from" in params else None
    at_until = None
    if "to" in params:
        to = params["to"]
        # A date-time ``to`` is inclusive; the exclusive bound is the next representable instant.
        at_until = (
            parse_time("to", to, end_of_day=True)
            if _DATE_ONLY.fullmatch(to)
            else parse_time("to", to) + timedelta(microseconds=1)
        )
    if at_from is not None and at_until is not None and at_until <= at_from:
        raise InvalidAuditQuery("to", "must not be earlier than from")
    return at_from, at_until


def _action(params: dict[str, str]) -> tuple[str | None, str | None]:
    """``action=user.login`` matches exactly; ``action=user.*`` matches by prefix."""
    value = params.get("action")
    if value is None:
        return None, None
    _text("action", value)
    if "*" in value[:-1]:
        raise InvalidAuditQuery("action", "'*' may only end the value (a prefix, e.g. user.*)")
    if value.endswith("*"):
        prefix = value[:-1]
        return None, (prefix or None)
    return value, None


def parse_filters(raw: Mapping[str, str | None]) -> AuditFilters:
    """Filters from query-string values; ``InvalidAuditQuery`` names the first bad field."""
    params = clean_params(raw, FILTER_KEYS)
    for key in ("actor", "object_type", "object_id"):
        if key in params:
            _text(key, params[key])
    action, action_prefix = _action(params)
    at_from, at_until = _time_range(params)
    return AuditFilters(
        actor=params.get("actor"),
        action=action,
        action_prefix=action_prefix,
        object_type=params.get("object_type"),
        object_id=params.get("object_id"),
        at_from=at_from,
        at_until=at_until,
        params=params,
    )


def _positive_int(key: str, value: str, upper: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= upper:
        raise InvalidAuditQuery(key, f"must be a whole number from 1 to {upper}")
    return int(value)


def parse_page(raw: Mapping[str, str | None]) -> PageRequest:
    params = clean_params(raw, PAGE_KEYS)
    if "before" in params and "after" in params:
        raise InvalidAuditQuery("after", "give either before or after, not both")
    big = 2**63 - 1  # seq is a BIGINT
    return PageRequest(
        before=_positive_int("before", params["before"], big) if "before" in params else None,
        after=_positive_int("after", params["after"], big) if "after" in params else None,
        limit=_positive_int("limit", params["limit"], MAX_PAGE_SIZE)
        if "limit" in params
        else DEFAULT_PAGE_SIZE,
    )


# ---------------------------------------------------------------------------------------------
# Reading


def _select(filters: AuditFilters) -> Select[Any]:
    # Core rows, not ORM objects: nothing accumulates in the session's identity map, however
    # many entries an export walks through.
    return select(_LOG).where(*filters.conditions())


async def _fetch(session: AsyncSession, stmt: Select[Any]) -> list[AuditRecord]:
    result = await session.execute(stmt)
    return [AuditRecord(**row._mapping) for row in result]


async def _any(session: AsyncSession, filters: AuditFilters, cond: ColumnElement[bool]) -> bool:
    stmt = select(exists().where(*filters.conditions(), cond))
    return bool((await session.execute(stmt)).scalar())


async def list_entries(
    session: AsyncSession, filters: AuditFilters, page: PageRequest | None = None
) -> AuditPage:
    """One page of matching entries, newest first."""
    page = page or PageRequest()
    if page.after is not None:
        return await _newer_page(session, filters, page.after, page.limit)
    stmt = _select(filters).order_by(AuditLog.seq.desc()).limit(page.limit + 1)
    if page.before is not None:
        stmt = stmt.where(AuditLog.seq < page.before)
    rows = await _fetch(session, stmt)
    older = rows[page.limit - 1].seq if len(rows) > page.limit else None
    rows = rows[: page.limit]
    newer = None
    if (
        page.before is not None
        and rows
        and await _any(session, filters, AuditLog.seq > rows[0].seq)
    ):
        newer = rows[0].seq
    return AuditPage(rows, newer=newer, older=older)


async def _newer_page(
    session: AsyncSession, filters: AuditFilters, after: int, limit: int
) -> AuditPage:
    stmt = (
        _select(filters).where(AuditLog.seq > after).order_by(AuditLog.seq.asc()).limit(limit + 1)
    )
    rows = await _fetch(session, stmt)
    if len(rows) <= limit:
        # Paging back reached the newest entries: show the full first page, not a short one.
        return await list_entries(session, filters, PageRequest(limit=limit))
    rows = rows[:limit]
    rows.reverse()
    older = rows[-1].seq if await _any(session, filters, AuditLog.seq < rows[-1].seq) else None
    return AuditPage(rows, newer=rows[0].seq, older=older)


async def iter_entries(
    session: AsyncSession,
    filters: AuditFilters,
    *,
    upto_seq: int | None = None,
    batch: int = EXPORT_BATCH,
) -> AsyncIterator[AuditRecord]:
    """Every matching entry in chain order (oldest first), fetched ``batch`` rows at a time.

    ``upto_seq`` bounds the walk, so an export reflects the log as it was when it started even
    while new entries keep arriving.
    """
    last = 0
    while True:
        stmt = _select(filters).where(AuditLog.seq > last).order_by(AuditLog.seq).limit(batch)
        if upto_seq is not None:
            stmt = stmt.where(AuditLog.seq <= upto_seq)
        rows = await _fetch(session, stmt)
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        last = rows[-1].seq
