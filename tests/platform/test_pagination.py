"""Cursor pages: a cursor stands for the position it was made from, a foreign one is refused,
and walking ``next_cursor`` through a list serves every item once, in order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierline.platform.pagination import (
    InvalidCursor,
    PageRequest,
    decode_cursor,
    encode_cursor,
)

positions = st.lists(
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=12)), min_size=1, max_size=3
).map(tuple)


# Drawing text is slow on a loaded machine (CI shares its cores); the property is cheap.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(positions)
def test_a_cursor_stands_for_its_position(position: tuple[str | int, ...]) -> None:
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor


@pytest.mark.parametrize("cursor", ["x", "12", "eyJhIjoxfQ", encode_cursor(()), "!!!!", "W10"])
def test_a_cursor_this_api_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="cursor"):
        PageRequest(10, cursor).position()


@given(st.sets(st.integers(0, 300), max_size=60), st.integers(1, 7), st.booleans())
def test_walking_the_cursors_serves_every_item_once(
    keys: set[int], limit: int, descending: bool
) -> None:
    ordered = sorted(keys, reverse=descending)
    served: list[int] = []
    cursor: str | None = None
    for _ in range(len(ordered) + 2):
        page = PageRequest(limit, cursor).slice(ordered, lambda k: (k,), descending)
        assert len(page.items) <= limit
        served.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert served == ordered


def test_a_page_of_rows_fetched_one_beyond_the_limit() -> None:
    request = PageRequest(2)
    assert request.of([1, 2, 3], lambda r: (r,)).next_cursor == encode_cursor((2,))
    assert request.of([1, 2], lambda r: (r,)).next_cursor is None
    assert request.of([], lambda r: (r,)).items == []
