"""What a master-data list can be asked: the browsable tables (their filters and sorts), and
list requests parsed from query-string text (a GET form, the JSON API, a paging link) once, a
value that does not parse refused naming its field; page cursors are opaque tokens of the sort
and the boundary row's sort values."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause

from tierline.masterdata.models import ACCOUNT_TYPES, LIFECYCLES, Customer, Product
from tierline.platform.errors import DomainError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
PAGE_SIZES = (25, DEFAULT_PAGE_SIZE, 100, MAX_PAGE_SIZE)
SEARCH_MAX_LENGTH = 100
CURSOR_MAX_LENGTH = 2000
_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__


class InvalidBrowseQuery(DomainError):
    """A filter or paging value that does not parse; ``field`` names the query key."""

    status_code = 422
    title = "Invalid query"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


FilterKind = Literal["text", "choice", "yesno"]
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})


@dataclass(frozen=True)
class FilterField:
    """One equality filter: a query key, the column it tests, and how its input is read."""

    key: str
    label: str
    kind: FilterKind = "text"
    column: str = ""  # when it differs from ``key``
    choices: tuple[str, ...] = ()
    case: Literal["lower", "upper", "keep"] = "keep"  # as imports normalise the column
    max_length: int = 100
    suggest: bool = True  # offer the values in use (a datalist) on the page

    @property
    def target(self) -> str:
        return self.column or self.key

    def parse(self, value: str) -> tuple[str | bool, str]:
        """(value to compare with, value to echo into forms and links)."""
        if self.kind == "yesno":
            lowered = value.lower()
            if lowered in _YES | _NO:
                return lowered in _YES, "yes" if lowered in _YES else "no"
            raise InvalidBrowseQuery(self.key, "must be yes or no")
        _check_text(self.key, value, self.max_length)
        if self.case == "lower" or self.kind == "choice":
            value = value.lower()
        elif self.case == "upper":
            value = value.upper()
        if self.kind == "choice" and value not in self.choices:
            raise InvalidBrowseQuery(self.key, f"must be one of {', '.join(self.choices)}")
        return value, value


@dataclass(frozen=True)
class ListSpec:
    """A browsable table: its natural key, title column, list columns, filters and sorts."""

    entity: str
    table: FromClause
    key: str  # unique: ends every sort, so keyset cursors are exact
    title: str  # searched together with ``key``
    columns: tuple[str, ...]
    filters: tuple[FilterField, ...]
    sorts: Mapping[str, tuple[str, ...]]
    default_sort: str

    def column(self, name: str) -> ColumnElement[Any]:
        col: ColumnElement[Any] = self.table.c[name]
        return col


CUSTOMERS = ListSpec(
    entity="customers",
    table=_CUSTOMERS,
    key="code",
    title="name",
    columns=(
        "code",
        "name",
        "account_type",
        "parent_code",
        "region",
        "country",
        "channel",
        "strategic",
        "business_unit",
        "scope",
    ),
    filters=(
        FilterField("region", "Region", case="lower", max_length=40),
        FilterField("country", "Country", case="upper", max_length=2),
        FilterField("channel", "Channel", case="lower", max_length=40),
        FilterField("account_type", "Account type", "choice", choices=ACCOUNT_TYPES),
        FilterField("strategic", "Strategic", "yesno"),
        FilterField("business_unit", "Business unit", case="lower", max_length=40),
        FilterField("parent", "Parent account", column="parent_code", suggest=False),
    ),
    sorts={"code": ("code",), "name": ("name", "code")},
    default_sort="code",
)

PRODUCTS = ListSpec(
    entity="products",
    table=_PRODUCTS,
    key="sku",
    title="description",
    columns=(
        "sku",
        "description",
        "product_line",
        "category",
        "lifecycle",
        "base_uom",
        "business_unit",
        "scope",
    ),
    filters=(
        FilterField("product_line", "Product line"),
        FilterField("category", "Category"),
        FilterField("lifecycle", "Lifecycle", "choice", choices=LIFECYCLES),
        FilterField("base_uom", "Base unit", case="upper", max_length=20),
    ),
    sorts={"sku": ("sku",), "description": ("description", "sku")},
    default_sort="sku",
)


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request. ``params`` keeps the cleaned search, filters and sort, to echo
    into forms and paging links (never the cursor or page size)."""

    search: str | None = None
    equals: Mapping[str, str | bool] = field(default_factory=dict)  # column -> value
    sort: str = ""
    limit: int = DEFAULT_PAGE_SIZE
    after: tuple[str, ...] | None = None
    before: tuple[str, ...] | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def paged(self) -> bool:
        return self.after is not None or self.before is not None


def _check_text(key: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise InvalidBrowseQuery(key, f"must be at most {max_length} characters")
    # PostgreSQL text cannot hold NUL; other control characters are never in a real value.
    if any(ord(ch) < 32 for ch in value):
        raise InvalidBrowseQuery(key, "must not contain control characters")


def _cleaned(raw: Mapping[str, str | None], key: str) -> str | None:
    """A blank form field means "no filter"."""
    value = raw.get(key)
    return value.strip() if value is not None and value.strip() else None


def _limit(raw: Mapping[str, str | None]) -> int:
    value = _cleaned(raw, "limit")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidBrowseQuery("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    """An opaque page cursor: the sort and the boundary row's values of the sort columns."""
    raw = json.dumps([sort, *(str(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(key: str, token: str, sort: str, width: int) -> tuple[str, ...]:
    """The cursor's values; refused if it is malformed or was made for another sort."""
    bad = InvalidBrowseQuery(key, "is not a page cursor of this list; start from the first page")
    if len(token) > CURSOR_MAX_LENGTH:
        raise bad
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != width + 1
        or decoded[0] != sort
        or not all(isinstance(v, str) for v in decoded)
    ):
        raise bad
    values = tuple(decoded[1:])
    for value in values:
        _check_text(key, value, 500)
    return values


def _cursors(
    raw: Mapping[str, str | None], sort: str, width: int
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    after, before = _cleaned(raw, "after"), _cleaned(raw, "before")
    if after is not None and before is not None:
        raise InvalidBrowseQuery("before", "give either after or before, not both")
    return (
        decode_cursor("after", after, sort, width) if after is not None else None,
        decode_cursor("before", before, sort, width) if before is not None else None,
    )


def parse_list_query(spec: ListSpec, raw: Mapping[str, str | None]) -> ListQuery:
    """A list request from query-string values; ``InvalidBrowseQuery`` names the bad field."""
    params: dict[str, str] = {}
    search = _cleaned(raw, "q")
    if search is not None:
        _check_text("q", search, SEARCH_MAX_LENGTH)
        params["q"] = search
    equals: dict[str, str | bool] = {}
    for spec_field in spec.filters:
        value = _cleaned(raw, spec_field.key)
        if value is not None:
            equals[spec_field.target], params[spec_field.key] = spec_field.parse(value)
    sort = _cleaned(raw, "sort") or spec.default_sort
    if sort not in spec.sorts:
        raise InvalidBrowseQuery("sort", f"must be one of {', '.join(spec.sorts)}")
    if sort != spec.default_sort:
        params["sort"] = sort
    after, before = _cursors(raw, sort, len(spec.sorts[sort]))
    return ListQuery(search, equals, sort, _limit(raw), after, before, params)
