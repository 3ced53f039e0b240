"""Rule conditions: the document shape, the attributes a scheme may test, and their polars form.

A condition is one of four shapes, written as a small mapping in the scheme:
``{attr: NAME, OP: VALUE}`` (one operator), ``{all: [...]}``, ``{any: [...]}`` or ``{not: {...}}``.
They share one Struct so msgspec decodes and describes them (JSON Schema) without a custom
union; ``validation`` checks that each node uses exactly one shape.

Null semantics, relied on by the engine and stated once here: a leaf test on a null value is
false (``is_null`` excepted); ``all``/``any``/``not`` then combine those plain booleans, so
``not {attr: xyz, eq: Z}`` is true for an entity whose xyz is null.

Text semantics, stated once here too: master-data text attributes (every ``string``
attribute, ``attributes.*`` and the lifecycle; not the computed ``abc``/``xyz``) are compared
trimmed and case-insensitively. The engine normalises the column with :func:`normalise_texts`
and ``condition_expr`` the values a condition names, so ``region in [EMEA]`` matches a stored
``emea`` or `` Emea ``. A value that is empty once trimmed counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import msgspec
import polars as pl
from msgspec import UNSET, UnsetType

Scalar = str | bool | float
EntityKind = Literal["customer", "product", "customer_product"]
AttributeType = Literal["number", "string", "bool", "enum"]

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
MEMBERSHIP = ("in", "not_in")
OPERATORS = (*COMPARISONS, *MEMBERSHIP, "is_null")
NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")

ABC_CLASSES = ("A", "B", "C")
XYZ_CLASSES = ("X", "Y", "Z")
LIFECYCLES = ("active", "npi", "promotional", "one_time_project", "phase_out")


class Condition(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One node of a rule's ``when``; exactly one shape is used (checked by validation)."""

    attr: str | UnsetType = UNSET
    eq: Scalar | UnsetType = UNSET
    ne: Scalar | UnsetType = UNSET
    in_: list[Scalar] | UnsetType = msgspec.field(default=UNSET, name="in")
    not_in: list[Scalar] | UnsetType = UNSET
    gt: float | UnsetType = UNSET
    gte: float | UnsetType = UNSET
    lt: float | UnsetType = UNSET
    lte: float | UnsetType = UNSET
    is_null: bool | UnsetType = UNSET
    all_: list[Condition] | UnsetType = msgspec.field(default=UNSET, name="all")
    any_: list[Condition] | UnsetType = msgspec.field(default=UNSET, name="any")
    not_: Condition | UnsetType = msgspec.field(default=UNSET, name="not")

    def operators(self) -> list[tuple[str, object]]:
        """The ``(op, value)`` pairs set on this node, in document spelling."""
        found: list[tuple[str, object]] = []
        for op in OPERATORS:
            value = getattr(self, "in_" if op == "in" else op)
            if value is not UNSET:
                found.append((op, value))
        return found

    def children(self) -> Iterator[tuple[str, Condition]]:
        """Sub-conditions with their path suffix (``all[0]``, ``not``)."""
        for name, group in (("all", self.all_), ("any", self.any_)):
            if not isinstance(group, UnsetType):
                for i, child in enumerate(group):
                    yield f"{name}[{i}]", child
        if not isinstance(self.not_, UnsetType):
            yield "not", self.not_


@dataclass(frozen=True)
class Attribute:
    """What a condition may compare an attribute with."""

    name: str
    type: AttributeType
    values: tuple[str, ...] = ()  # the closed domain of an enum attribute


MEASURES = {
    name: Attribute(name, "number")
    for name in (
        "volume",
        "revenue",
        "margin",
        "margin_pct",
        "order_count",
        "order_lines",
        "cv",
        "max_period_share",
    )
}
CUSTOMER_ATTRIBUTES = {
    "strategic": Attribute("strategic", "bool"),
    **{
        name: Attribute(name, "string")
        for name in ("region", "country", "channel", "crm_tier", "account_type", "business_unit")
    },
}
PRODUCT_ATTRIBUTES = {
    "lifecycle": Attribute("lifecycle", "enum", LIFECYCLES),
    **{
        name: Attribute(name, "string")
        for name in ("product_line", "category", "base_uom", "business_unit")
    },
}
FREE_ATTRIBUTE_PREFIX = "attributes."


def lifecycle_attribute(entity: EntityKind) -> str:
    """The column holding the product lifecycle for this entity kind."""
    return "product.lifecycle" if entity == "customer_product" else "lifecycle"


def resolve_attribute(entity: EntityKind, name: str, has_xyz: bool) -> Attribute | None:
    """The attribute a condition names, or None when this scheme cannot know it.

    Customer x product schemes prefix master-data attributes with ``customer.`` / ``product.``
    so that ``business_unit`` on either side stays unambiguous.
    """
    if name in MEASURES:
        return MEASURES[name]
    if name == "abc":
        return Attribute("abc", "enum", ABC_CLASSES)
    if name == "xyz":
        return Attribute("xyz", "enum", XYZ_CLASSES) if has_xyz else None
    sides: list[tuple[str, dict[str, Attribute]]] = []
    if entity == "customer":
        sides = [("", CUSTOMER_ATTRIBUTES)]
    elif entity == "product":
        sides = [("", PRODUCT_ATTRIBUTES)]
    else:
        sides = [("customer.", CUSTOMER_ATTRIBUTES), ("product.", PRODUCT_ATTRIBUTES)]
    for prefix, catalogue in sides:
        if not name.startswith(prefix):
            continue
        bare = name.removeprefix(prefix)
        if bare in catalogue:
            found = catalogue[bare]
            return Attribute(name, found.type, found.values)
        key = bare.removeprefix(FREE_ATTRIBUTE_PREFIX)
        if bare.startswith(FREE_ATTRIBUTE_PREFIX) and key:
            return Attribute(name, "string")
    return None


def is_text(attribute: Attribute) -> bool:
    """Compared trimmed and case-insensitively (see the module docstring)."""
    return attribute.type == "string" or (
        attribute.type == "enum" and attribute.name not in ("abc", "xyz")
    )


def normalise_column(column: pl.Expr) -> pl.Expr:
    """A text column trimmed and lower-cased; empty text becomes null (missing)."""
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(text.str.len_chars() > 0).then(text)


def normalise_texts(values: list[str]) -> list[str]:
    """Values as :func:`normalise_column` makes a column (the same polars functions)."""
    series = pl.Series(values, dtype=pl.String).str.strip_chars().str.to_lowercase()
    return [str(v) for v in series.to_list()]


def polars_type(attribute: Attribute) -> type[pl.DataType]:
    """The dtype the engine casts an attribute column to before testing it."""
    return {"number": pl.Float64, "bool": pl.Boolean}.get(attribute.type, pl.String)


def referenced_attributes(condition: Condition) -> Iterator[str]:
    """Every attribute name a condition tree tests."""
    if not isinstance(condition.attr, UnsetType):
        yield condition.attr
    for _, child in condition.children():
        yield from referenced_attributes(child)


def condition_expr(condition: Condition, texts: frozenset[str] = frozenset()) -> pl.Expr:
    """The polars boolean for a validated condition (never null: see the module docstring).
    ``texts``: attributes whose columns hold normalised text; the values tested against them
    are normalised the same way."""
    if not isinstance(condition.all_, UnsetType):
        return pl.all_horizontal([condition_expr(c, texts) for c in condition.all_])
    if not isinstance(condition.any_, UnsetType):
        return pl.any_horizontal([condition_expr(c, texts) for c in condition.any_])
    if not isinstance(condition.not_, UnsetType):
        return ~condition_expr(condition.not_, texts)
    assert isinstance(condition.attr, str)
    op, value = condition.operators()[0]
    if condition.attr in texts:
        value = text_value(value)
    return _leaf_expr(pl.col(condition.attr), op, value)


def text_value(value: object) -> object:
    """A condition's value (or list of values) normalised like a text column."""
    if isinstance(value, str):
        return normalise_texts([value])[0]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return normalise_texts(value)
    return value


def _leaf_expr(column: pl.Expr, op: str, value: object) -> pl.Expr:
    if op == "is_null":
        return column.is_null() if value else column.is_not_null()
    if op in MEMBERSHIP:
        assert isinstance(value, list)
        test = column.is_in(pl.Series(value).implode(), nulls_equal=False)
        test = test if op == "in" else ~test
    else:
        literal = pl.lit(value)
        test = {
            "eq": column == literal,
            "ne": column != literal,
            "gt": column > literal,
            "gte": column >= literal,
            "lt": column < literal,
            "lte": column <= literal,
        }[op]
    return test.fill_null(False)  # a comparison with null is null: make it false
