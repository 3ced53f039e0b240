"""One way to page through a list on the API: ``limit`` and an opaque ``cursor`` in, a ``Page``
(``items`` and ``next_cursor``) out.

A list operation takes the ``page`` dependency and answers a ``Page`` of its item type::

    @get("/things", guards=[requires(READ)], operation_id="listThings", dependencies=PAGED)
    async def list_things(page: PageRequest) -> Page[ThingOut]:
        \"\"\"Things, newest first.\"\"\"
        rows = await newest_things(before=page.position(), limit=page.limit + 1)
        return page.of(rows, lambda row: (row.created_at.isoformat(), row.id))

The client passes ``next_cursor`` back as ``cursor`` until it is ``null``. A cursor is the
position of the last item served (keyset, never an offset: rows added meanwhile neither repeat
nor skip), base64url-encoded so clients treat it as opaque; a cursor this API did not issue is
a 400 problem naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.di import Provide
from litestar.params import Parameter

from tierline.platform.errors import DomainError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 512
_VERSION = "c1"

Position = tuple[str | int, ...]


class Page(msgspec.Struct, Generic[T]):
    """One page of a list: ``items`` in the operation's order, ``next_cursor`` to pass as
    ``cursor`` for the next page (``null`` on the last one)."""

    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(DomainError):
    status_code = 400
    title = "Invalid cursor"


def encode_cursor(position: Position) -> str:
    """The opaque cursor for ``position`` (the sort key of the last item served)."""
    raw = msgspec.json.encode([_VERSION, *position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor stands for; ``InvalidCursor`` for one this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        value = None
    if (
        not isinstance(value, list)
        or len(value) < 2
        or value[0] != _VERSION
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value[1:])
    ):
        raise InvalidCursor("cursor: not a cursor this API returned (pass next_cursor as is)")
    return tuple(value[1:])


@dataclass(frozen=True)
class PageRequest:
    """What the client asked for: at most ``limit`` items after ``cursor``."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def position(self) -> Position | None:
        """The sort key of the last item already served, or None for the first page."""
        return decode_cursor(self.cursor) if self.cursor else None

    def of(self, rows: Sequence[T], position: Callable[[T], Position]) -> Page[T]:
        """The page from ``rows`` fetched with ``limit + 1`` (one more tells whether another
        page follows); ``position`` gives an item's sort key, unique within the list."""
        items = list(rows[: self.limit])
        more = len(rows) > self.limit and bool(items)
        return Page(items, encode_cursor(position(items[-1])) if more else None)

    def slice(
        self, ordered: Sequence[T], position: Callable[[T], Position], descending: bool = False
    ) -> Page[T]:
        """A page of a list held in full (short lists: schemes, contracts), ordered by
        ``position`` ascending (or descending): the items past the cursor, keyset-wise."""
        cursor = self.position()
        if cursor is not None:
            after = _comparable(cursor)
            if descending:
                ordered = [item for item in ordered if _comparable(position(item)) < after]
            else:
                ordered = [item for item in ordered if _comparable(position(item)) > after]
        return self.of(list(ordered[: self.limit + 1]), position)


def _comparable(position: Position) -> tuple[tuple[int, str | int], ...]:
    """A position that compares without mixing ``int`` and ``str`` (ints sort first)."""
    return tuple((0, v) if isinstance(v, int) else (1, v) for v in position)


async def provide_page_request(
    limit: Annotated[
        int,
        Parameter(
            ge=1,
            le=MAX_LIMIT,
            description=f"Items per page, 1 to {MAX_LIMIT}.",
        ),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Parameter(
            max_length=MAX_CURSOR_CHARS,
            description="Where to continue: the ``next_cursor`` of the previous page, as is.",
        ),
    ] = None,
) -> PageRequest:
    """The ``limit`` and ``cursor`` query parameters every list operation takes (a list whose
    query keeps its own opaque cursor reads ``cursor`` as is; ``position()`` decodes ours)."""
    return PageRequest(limit, cursor or None)


PAGED = {"page": Provide(provide_page_request)}
