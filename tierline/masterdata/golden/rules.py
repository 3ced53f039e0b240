"""Golden-record rules per entity: which source system wins each attribute (survivorship),
what identifies a record (match rules), and where customers and products keep their golden rows
and source records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Table

from tierline.masterdata.golden.normalise import normalise_duns, normalise_gtin, normalise_tax_id
from tierline.masterdata.models import Customer, Product

# Survivorship: for each attribute, source systems in falling priority. "*" stands for every
# source system not named; without "*" only the named systems may set the attribute.
CUSTOMER_SURVIVORSHIP: Mapping[str, tuple[str, ...]] = {
    # Legal identity: finance bills and checks credit against the registered legal entity.
    "name": ("finance", "erp", "sales", "logistics", "*"),
    "tax_id": ("finance", "erp", "sales", "logistics", "*"),
    "duns": ("finance", "erp", "sales", "logistics", "*"),
    # Codes and hierarchy: the ERP is the system of record; nobody else may change them.
    "account_type": ("erp",),
    "parent_code": ("erp",),
    "global_account_code": ("erp",),
    "business_unit": ("erp", "*"),
    # Imports fill a missing flag with false, so only systems that maintain it may set it.
    "strategic": ("erp", "sales"),
    # The commercial relationship lives in the CRM.
    "channel": ("sales", "erp", "*"),
    "crm_tier": ("sales", "erp", "*"),
    "account_manager_email": ("sales", "erp", "*"),
    # Delivery addresses are verified by the carriers logistics works with.
    "country": ("logistics", "erp", "finance", "sales", "*"),
    "postal_code": ("logistics", "erp", "finance", "sales", "*"),
    "region": ("logistics", "erp", "sales", "*"),
}

PRODUCT_SURVIVORSHIP: Mapping[str, tuple[str, ...]] = {
    # Marketing texts and the category tree are curated in the PIM.
    "description": ("pim", "erp", "*"),
    "category": ("pim", "erp", "*"),
    "product_line": ("erp", "pim", "*"),
    "launch_date": ("erp", "pim", "*"),
    "business_unit": ("erp", "*"),
    # Units drive every quantity conversion, and imports fill a missing lifecycle with
    # 'active': both stay with the ERP.
    "base_uom": ("erp",),
    "lifecycle": ("erp",),
}

ANY_SOURCE = "*"

# fmt: off
# What the steward sees side by side.
CUSTOMER_DISPLAY = (
    "name", "tax_id", "duns", "country", "postal_code", "region", "account_type",
    "parent_code", "global_account_code", "channel", "crm_tier", "account_manager_email",
    "business_unit", "strategic",
)
PRODUCT_DISPLAY = (
    "description", "category", "product_line", "base_uom", "lifecycle", "launch_date",
    "business_unit", "attributes",
)
# fmt: on

GTIN_KEYS = ("gtin", "gtin14", "gtin13", "ean", "ean13", "ean8", "upc")


@dataclass(frozen=True)
class Identifier:
    column: str  # column of the match frames
    label: str  # how a reason names it
    normalise: Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class MatchRules:
    identifiers: tuple[Identifier, ...]
    name_label: str
    group_label: str | None  # None: no grouping attribute (products)
    detail_label: str
    detail_is_code: bool  # compared like a postal code (else like a name)
    strip_legal_forms: bool


@dataclass(frozen=True)
class GoldenSpec:
    entity: str  # match_reviews.entity
    table: str
    sources: str
    key: str  # the golden code column
    link: str  # the sources' link column
    survivorship: Mapping[str, tuple[str, ...]]
    rules: MatchRules
    source_sql: str  # unlinked records of one source system ($1), as match frame columns
    golden_sql: str  # every golden row, as match frame columns
    hierarchy: tuple[str, ...] = ()  # code columns pointing at other golden rows
    display: tuple[str, ...] = ()  # fields the steward compares side by side
    not_null_defaults: Mapping[str, str] = field(default_factory=dict)


CUSTOMER_RULES = MatchRules(
    identifiers=(
        Identifier("id_tax", "tax id", normalise_tax_id),
        Identifier("id_duns", "DUNS", normalise_duns),
    ),
    name_label="name",
    group_label="country",
    detail_label="postal code",
    detail_is_code=True,
    strip_legal_forms=True,
)

PRODUCT_RULES = MatchRules(
    identifiers=(Identifier("id_gtin", "GTIN", normalise_gtin),),
    name_label="description",
    group_label=None,
    detail_label="category",
    detail_is_code=False,
    strip_legal_forms=False,
)


def _gtin_sql(attributes: str) -> str:
    keys = ", ".join(f"'{k}'" for k in GTIN_KEYS)
    return (
        f"(SELECT a.value FROM jsonb_each_text(coalesce({attributes}, '{{}}'::jsonb)) a "
        f"WHERE lower(a.key) IN ({keys}) ORDER BY array_position(ARRAY[{keys}], lower(a.key)) "
        "LIMIT 1)"
    )


_SOURCE_GTIN = _gtin_sql("record->'attributes'")

CUSTOMERS = GoldenSpec(
    entity="customer",
    table="customers",
    sources="customer_sources",
    key="code",
    link="customer_code",
    survivorship=CUSTOMER_SURVIVORSHIP,
    rules=CUSTOMER_RULES,
    source_sql=(
        "SELECT source_key AS key, record->>'name' AS name, record->>'country' AS grp, "
        "record->>'postal_code' AS detail, record->>'tax_id' AS id_tax, "
        "record->>'duns' AS id_duns FROM customer_sources "
        "WHERE source_system = $1 AND customer_code IS NULL"
    ),
    golden_sql=(
        "SELECT code AS key, name, country AS grp, postal_code AS detail, tax_id AS id_tax, "
        "duns AS id_duns FROM customers"
    ),
    hierarchy=("parent_code", "global_account_code"),
    display=CUSTOMER_DISPLAY,
    not_null_defaults={"strategic": "false", "scope": "'*'", "attributes": "'{}'::jsonb"},
)

PRODUCTS = GoldenSpec(
    entity="product",
    table="products",
    sources="product_sources",
    key="sku",
    link="sku",
    survivorship=PRODUCT_SURVIVORSHIP,
    rules=PRODUCT_RULES,
    source_sql=(
        "SELECT source_key AS key, record->>'description' AS name, NULL AS grp, "
        f"record->>'category' AS detail, {_SOURCE_GTIN} AS id_gtin "
        "FROM product_sources WHERE source_system = $1 AND sku IS NULL"
    ),
    golden_sql=(
        "SELECT sku AS key, description AS name, NULL AS grp, category AS detail, "
        f"{_gtin_sql('attributes')} AS id_gtin FROM products"
    ),
    display=PRODUCT_DISPLAY,
    not_null_defaults={"lifecycle": "'active'", "scope": "'*'", "attributes": "'{}'::jsonb"},
)

SPECS: dict[str, GoldenSpec] = {"customers": CUSTOMERS, "products": PRODUCTS}
BY_ENTITY: dict[str, GoldenSpec] = {"customer": CUSTOMERS, "product": PRODUCTS}


def golden_spec(entity_name: str) -> GoldenSpec:
    """The spec for ``customers``/``products`` (import names) or ``customer``/``product``."""
    spec = SPECS.get(entity_name) or BY_ENTITY.get(entity_name)
    if spec is None:
        raise ValueError(f"no golden records for '{entity_name}' (customers or products)")
    return spec


def golden_table(spec: GoldenSpec) -> Table:
    model = Customer if spec.table == "customers" else Product
    return model.__table__  # type: ignore[return-value]
