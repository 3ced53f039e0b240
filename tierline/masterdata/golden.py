"""Golden records: one customer (or product) however many source systems describe it.

The ERP import writes golden rows directly (it owns codes and hierarchy). Every other source
system (sales, logistics, finance, a PIM, ...) only records what it sent in ``*_sources`` and
then :func:`reconcile` runs in the same transaction:

1. **Match** each unlinked source record against the golden table, vectorised in polars:

   - an equal hard identifier (tax id or DUNS for customers, GTIN/EAN for products) is a sure
     match (score 1.0);
   - otherwise an equal normalised name (description) *and* group (country) *and* detail
     (postal code; product category) is a strong match (0.95) and links automatically;
   - an equal name and group whose detail differs or is missing is **ambiguous** (0.7): the
     record stays unlinked and a data steward decides (``match_reviews``);
   - two records that both carry the same kind of hard identifier with different values are
     never matched on their name: distinct tax ids mean distinct legal entities, however alike
     the names look.

2. **Survivorship** for every golden row that gained or refreshed a source record: per
   attribute, the value of the highest-priority source system that has one
   (:data:`CUSTOMER_SURVIVORSHIP`, :data:`PRODUCT_SURVIVORSHIP`), ties broken by the most
   recent ``source_updated_at``; the golden row is written only where a winning value
   differs, and an attribute no source fills keeps its golden value.

3. **No match**: a new golden row from the source record, coded with the source key when that
   code is free, else ``<SOURCE>-<source key>``. Records of one batch that share an identifier
   (or name, group and detail) become one golden row, not several.

The work is set-based throughout: a few ``COPY`` reads into polars, and one statement per
write (arrays through ``unnest``), so a 20k-record batch costs the same handful of round trips
as a 20-record one. Re-running a batch is idempotent: linked records are not matched again,
reviews are unique per (record, candidate) and survivorship writes nothing when nothing won.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy import Table, and_, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.entities import entity as entity_spec
from tierline.masterdata.importing.validate import scope_expr
from tierline.masterdata.models import (
    Customer,
    CustomerSource,
    MatchReview,
    Product,
    ProductSource,
)
from tierline.platform.errors import DomainError
from tierline.platform.frames import read_frame

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

EXACT, STRONG, AMBIGUOUS = 1.0, 0.95, 0.7
MAX_CANDIDATES = 5  # reviews queued per record when many golden rows look alike
CODE_MAX = 100
RECONCILER = "system:reconcile"  # decided_by of reviews a later match settled

# Legal forms and filler words dropped from names before comparing them.
# fmt: off
LEGAL_FORMS = (
    "gmbh", "mbh", "ag", "kg", "kgaa", "se", "inc", "incorporated", "corp", "corporation",
    "ltd", "limited", "llc", "llp", "lp", "plc", "sa", "sas", "sarl", "srl", "spa", "bv", "nv",
    "oy", "ab", "co", "company", "and", "und", "the",
)
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
GTIN_LENGTHS = (8, 12, 13, 14)


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


@dataclass(frozen=True)
class ReconcileSummary:
    matched: int = 0  # source records linked to an existing golden row
    created: int = 0  # golden rows created from source records
    queued: int = 0  # source records left for a data steward
    updated: int = 0  # golden rows whose values survivorship changed


# --- normalisation -------------------------------------------------------------------------


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr != "").then(expr)  # keeps the column name; else null


def normalise_name(expr: pl.Expr, strip_legal_forms: bool = True) -> pl.Expr:
    """Lower case, no diacritics, no punctuation or legal form, single spaces."""
    out = expr.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()
    # Dots and apostrophes join abbreviations ("S.A." -> "sa") instead of splitting them.
    out = out.str.replace_all("[.'\u2019]", "").str.replace_all(r"[^\p{L}\p{N}]+", " ")
    if strip_legal_forms:
        out = out.str.replace_all(rf"\b(?:{'|'.join(LEGAL_FORMS)})\b", " ")
    out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    # Quantities are written "5 L" and "5L" alike.
    return _blank_to_null(out.str.replace_all(r"(\d) (\p{L})", "${1}${2}"))


def normalise_tax_id(expr: pl.Expr) -> pl.Expr:
    return _blank_to_null(expr.str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase())


def normalise_duns(expr: pl.Expr) -> pl.Expr:
    # Spreadsheets drop leading zeros; a DUNS number always has nine digits.
    return _blank_to_null(expr.str.replace_all(r"\D", "")).str.zfill(9)


def normalise_gtin(expr: pl.Expr) -> pl.Expr:
    """GTIN-8/12/13/14 (EAN, UPC) as the 14-digit form; anything else is no identifier."""
    digits = expr.str.replace_all(r"\D", "")
    valid = digits.str.len_chars().is_in(GTIN_LENGTHS)
    return pl.when(valid).then(digits.str.zfill(14))


def normalise_code(expr: pl.Expr) -> pl.Expr:
    return _blank_to_null(expr.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", ""))


def normalise(frame: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    """Match frame (key, name, grp, detail, identifiers) -> comparable values."""
    text = frame.select(pl.all().cast(pl.String))
    group = normalise_code(pl.col("grp")) if rules.group_label else pl.lit("*", dtype=pl.String)
    detail = (
        normalise_code(pl.col("detail"))
        if rules.detail_is_code
        else normalise_name(pl.col("detail"), strip_legal_forms=False)
    )
    return text.select(
        pl.col("key"),
        normalise_name(pl.col("name"), rules.strip_legal_forms).alias("name"),
        group.alias("grp"),
        detail.alias("detail"),
        *[i.normalise(pl.col(i.column)).alias(i.column) for i in rules.identifiers],
    )


# --- matching (pure) -----------------------------------------------------------------------

_PAIR = {"key": pl.String, "code": pl.String, "score": pl.Float64, "reasons": pl.String}


@dataclass(frozen=True)
class MatchResult:
    links: pl.DataFrame  # key, code, score, reasons: link automatically
    reviews: pl.DataFrame  # key, code, score, reasons: ask a data steward
    unmatched: pl.DataFrame  # normalised source rows with no candidate at all


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema=_PAIR)


def _exact(src: pl.DataFrame, gold: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    found = [
        src.filter(pl.col(i.column).is_not_null())
        .select("key", i.column)
        .join(
            gold.filter(pl.col(i.column).is_not_null()).select(
                pl.col("key").alias("code"), i.column
            ),
            on=i.column,
        )
        .select(
            "key", "code", pl.lit(rank).alias("rank"), pl.lit(f"same {i.label}").alias("reasons")
        )
        for rank, i in enumerate(rules.identifiers)
    ]
    if not found:
        return _empty_pairs()
    # A duplicate among the golden rows themselves: take the first identifier, then the
    # lowest code, so the outcome does not depend on row order.
    return (
        pl.concat(found)
        .sort("key", "rank", "code")
        .unique("key", keep="first", maintain_order=True)
        .select("key", "code", pl.lit(EXACT).alias("score"), "reasons")
    )


def _conflict(rules: MatchRules) -> pl.Expr:
    tests = [
        pl.col(i.column).is_not_null()
        & pl.col(f"{i.column}_g").is_not_null()
        & (pl.col(i.column) != pl.col(f"{i.column}_g"))
        for i in rules.identifiers
    ]
    return pl.any_horizontal(tests) if tests else pl.lit(False)


def _name_pairs(rest: pl.DataFrame, gold: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    """Candidate pairs with equal name and group, minus those whose identifiers conflict."""
    usable = pl.col("name").is_not_null() & pl.col("grp").is_not_null()
    right = gold.filter(usable).rename(
        {c: ("code" if c == "key" else f"{c}_g") for c in gold.columns}
    )
    pairs = rest.filter(usable).join(right, left_on=["name", "grp"], right_on=["name_g", "grp_g"])
    return pairs.filter(~_conflict(rules)).with_columns(
        (pl.col("detail").is_not_null() & (pl.col("detail") == pl.col("detail_g"))).alias(
            "same_detail"
        ),
        (pl.col("detail").is_null() | pl.col("detail_g").is_null()).alias("detail_missing"),
    )


def _reason_prefix(rules: MatchRules) -> str:
    parts = [f"same {rules.name_label}"]
    if rules.group_label:
        parts.append(f"same {rules.group_label}")
    return "|".join(parts)


def match_records(sources: pl.DataFrame, golden: pl.DataFrame, rules: MatchRules) -> MatchResult:
    """Decide, for every source record, a link, review candidates, or nothing.

    Reasons are ``|``-joined here and turned into a JSON list by the database.
    """
    src, gold = normalise(sources, rules), normalise(golden, rules)
    exact = _exact(src, gold, rules)
    rest = src.join(exact.select("key"), on="key", how="anti")
    pairs = _name_pairs(rest, gold, rules)
    prefix = _reason_prefix(rules)
    strong = (
        pairs.filter(pl.col("same_detail"))
        .sort("key", "code")
        .unique("key", keep="first", maintain_order=True)
        .select(
            "key",
            "code",
            pl.lit(STRONG).alias("score"),
            pl.lit(f"{prefix}|same {rules.detail_label}").alias("reasons"),
        )
    )
    detail = rules.detail_label
    reviews = (
        pairs.filter(~pl.col("same_detail"))
        .join(strong.select("key"), on="key", how="anti")
        .sort("key", "code")
        .group_by("key", maintain_order=True)
        .head(MAX_CANDIDATES)
        .select(
            "key",
            "code",
            pl.lit(AMBIGUOUS).alias("score"),
            pl.when(pl.col("detail_missing"))
            .then(pl.lit(f"{prefix}|{detail} missing"))
            .otherwise(pl.lit(f"{prefix}|{detail} differs"))
            .alias("reasons"),
        )
    )
    unmatched = rest.join(strong.select("key"), on="key", how="anti").join(
        reviews.select("key"), on="key", how="anti"
    )
    return MatchResult(pl.concat([exact, strong]), reviews, unmatched)


def plan_new_codes(
    unmatched: pl.DataFrame, taken: pl.Series, source_system: str, rules: MatchRules
) -> pl.DataFrame:
    """(key, leader, code) for records that start golden rows: records of the batch sharing
    an identifier, or name + group + detail, follow one leader (the lowest key).

    The code is the leader's source key when free, else ``<SOURCE>-<key>``; should that be
    taken or too long too, a hash keeps it unique.
    """
    if unmatched.is_empty():
        return pl.DataFrame(schema={"key": pl.String, "leader": pl.String, "code": pl.String})
    same_thing = [
        pl.concat_str([pl.lit(f"{i.column}:"), pl.col(i.column)]) for i in rules.identifiers
    ]
    same_thing.append(
        pl.concat_str([pl.lit("n:"), "name", pl.lit("|"), "grp", pl.lit("|"), "detail"])
    )
    same_thing.append(pl.concat_str([pl.lit("k:"), "key"]))
    grouped = unmatched.with_columns(pl.coalesce(same_thing).alias("group")).with_columns(
        pl.col("key").min().over("group").alias("leader")
    )
    prefix = source_system.upper()
    leaders = grouped.filter(pl.col("key") == pl.col("leader")).select("key")
    free = ~pl.col("key").is_in(taken.implode())
    firsts = leaders.filter(free)["key"]
    fallback = pl.concat_str([pl.lit(f"{prefix}-"), pl.col("key")])
    hashed = pl.concat_str(
        [
            pl.lit(f"{prefix}-"),
            pl.col("key").str.slice(0, 30),
            pl.lit("-"),
            pl.col("key").hash(seed=20_240_601).cast(pl.String),
        ]
    )
    clash = (
        fallback.is_in(taken.implode())
        | fallback.is_in(firsts.implode())
        | (fallback.str.len_chars() > CODE_MAX)
    )
    coded = leaders.with_columns(
        pl.when(free).then(pl.col("key")).when(clash).then(hashed).otherwise(fallback).alias("code")
    )
    return grouped.select("key", "leader").join(
        coded.rename({"key": "leader"}), on="leader", how="inner"
    )


# --- survivorship (pure) -------------------------------------------------------------------


def _priority_frames(priority: Mapping[str, tuple[str, ...]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    named = [
        (attribute, system, rank)
        for attribute, systems in priority.items()
        for rank, system in enumerate(systems)
        if system != ANY_SOURCE
    ]
    wild = [
        (attribute, systems.index(ANY_SOURCE))
        for attribute, systems in priority.items()
        if ANY_SOURCE in systems
    ]
    ranks = pl.DataFrame(
        named,
        schema={"attribute": pl.String, "source_system": pl.String, "rank": pl.Int32},
        orient="row",
    )
    wildcards = pl.DataFrame(
        wild, schema={"attribute": pl.String, "wild_rank": pl.Int32}, orient="row"
    )
    return ranks, wildcards


def survive(records: pl.DataFrame, priority: Mapping[str, tuple[str, ...]]) -> pl.DataFrame:
    """Winning value per golden code and attribute.

    ``records``: code, source_system, updated (epoch seconds), received (epoch seconds) and one
    text column per attribute. Returns one row per code and one column per attribute; null
    where no source may or does fill it.
    """
    attributes = list(priority)
    ranks, wildcards = _priority_frames(priority)
    long = (
        records.unpivot(
            index=["code", "source_system", "updated", "received"],
            on=attributes,
            variable_name="attribute",
            value_name="value",
        )
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .join(ranks, on=["attribute", "source_system"], how="left")
        .join(wildcards, on="attribute", how="left")
        .with_columns(pl.coalesce("rank", "wild_rank").alias("rank"))
        .filter(pl.col("rank").is_not_null())
    )
    winners = (
        long.sort(
            ["code", "attribute", "rank", "updated", "received", "source_system"],
            descending=[False, False, False, True, True, False],
            nulls_last=True,
        )
        .group_by(["code", "attribute"], maintain_order=True)
        .first()
    )
    wide = winners.pivot(on="attribute", index="code", values="value")
    missing = [pl.lit(None, dtype=pl.String).alias(a) for a in attributes if a not in wide.columns]
    return wide.with_columns(missing).select("code", *attributes)


# --- the entities --------------------------------------------------------------------------

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


def _table(spec: GoldenSpec) -> Table:
    model = Customer if spec.table == "customers" else Product
    return model.__table__  # type: ignore[return-value]


def _sql_type(conn: AsyncConnection, spec: GoldenSpec, column: str) -> str:
    return str(_table(spec).c[column].type.compile(dialect=conn.dialect))


# --- database helpers ----------------------------------------------------------------------


def _match_schema(rules: MatchRules) -> dict[str, pl.DataType]:
    names = ["key", "name", "grp", "detail", *[i.column for i in rules.identifiers]]
    return {n: pl.String() for n in names}


async def link_records(
    conn: AsyncConnection, spec: GoldenSpec, source_system: str, keys: list[str], codes: list[str]
) -> int:
    """Point unlinked source records at golden codes; how many were linked."""
    if not keys:
        return 0
    result = await conn.execute(
        text(
            f"UPDATE {spec.sources} s SET {spec.link} = u.code "
            "FROM unnest(CAST(:keys AS text[]), CAST(:codes AS text[])) AS u(key, code) "
            f"WHERE s.source_system = :src AND s.source_key = u.key AND s.{spec.link} IS NULL"
        ),
        {"keys": keys, "codes": codes, "src": source_system},
    )
    return int(result.rowcount or 0)


def _insert_columns(spec: GoldenSpec) -> list[str]:
    skip = {"id", "created_at", "updated_at", "row_hash", spec.key}
    return [c.name for c in _table(spec).columns if c.name not in skip]


async def insert_goldens(
    conn: AsyncConnection, spec: GoldenSpec, source_system: str, keys: list[str], codes: list[str]
) -> set[str]:
    """Create golden rows from source records as stored (``jsonb_populate_record`` types each
    value by the golden table's own column); the codes actually inserted."""
    if not keys:
        return set()
    columns = _insert_columns(spec)
    values = [
        f"coalesce(p.{c}, {spec.not_null_defaults[c]})" if c in spec.not_null_defaults else f"p.{c}"
        for c in columns
    ]
    result = await conn.execute(
        text(
            f"INSERT INTO {spec.table} ({spec.key}, {', '.join(columns)}) "
            f"SELECT u.code, {', '.join(values)} "
            "FROM unnest(CAST(:keys AS text[]), CAST(:codes AS text[])) AS u(key, code) "
            f"JOIN {spec.sources} s ON s.source_system = :src AND s.source_key = u.key "
            f"CROSS JOIN LATERAL jsonb_populate_record(NULL::{spec.table}, s.record) AS p "
            f"ON CONFLICT ({spec.key}) DO NOTHING RETURNING {spec.key}"
        ),
        {"keys": keys, "codes": codes, "src": source_system},
    )
    return {str(r[0]) for r in result}


async def resolve_hierarchy(
    conn: AsyncConnection, spec: GoldenSpec, source_system: str, codes: Sequence[str]
) -> None:
    """Codes in a new golden row's hierarchy columns came from its source system: translate
    them to the golden code that source key is linked to, keep them if they already name a
    golden row, else clear them (a dangling parent would fail the deferred foreign key)."""
    if not codes or not spec.hierarchy:
        return
    sets = ", ".join(
        f"{c} = coalesce((SELECT s.{spec.link} FROM {spec.sources} s "
        f"WHERE s.source_system = :src AND s.source_key = g.{c}), "
        f"(SELECT p.{spec.key} FROM {spec.table} p WHERE p.{spec.key} = g.{c}))"
        for c in spec.hierarchy
    )
    await conn.execute(
        text(f"UPDATE {spec.table} g SET {sets} WHERE g.{spec.key} = ANY(CAST(:codes AS text[]))"),
        {"codes": list(codes), "src": source_system},
    )


async def queue_reviews(
    conn: AsyncConnection, spec: GoldenSpec, source_system: str, reviews: pl.DataFrame
) -> int:
    """Insert reviews not asked before (open or decided); how many are new."""
    if reviews.is_empty():
        return 0
    result = await conn.execute(
        text(
            "INSERT INTO match_reviews (entity, source_system, source_key, candidate_code, "
            "score, reasons) SELECT :entity, :src, u.key, u.code, u.score, "
            "to_jsonb(string_to_array(u.reasons, '|')) FROM unnest(CAST(:keys AS text[]), "
            "CAST(:codes AS text[]), CAST(:scores AS float8[]), CAST(:reasons AS text[])) "
            "AS u(key, code, score, reasons) "
            "ON CONFLICT (entity, source_system, source_key, candidate_code) DO NOTHING"
        ),
        {
            "entity": spec.entity,
            "src": source_system,
            "keys": reviews["key"].to_list(),
            "codes": reviews["code"].to_list(),
            "scores": reviews["score"].to_list(),
            "reasons": reviews["reasons"].to_list(),
        },
    )
    return int(result.rowcount or 0)


async def _codes_received_now(
    conn: AsyncConnection, spec: GoldenSpec, source_system: str
) -> list[str]:
    """Golden codes whose linked records this transaction re-sent (``now()`` is the
    transaction's start, which the import wrote as ``received_at``): their values may have
    changed, so survivorship runs for them again."""
    rows = await conn.execute(
        text(
            f"SELECT DISTINCT {spec.link} FROM {spec.sources} WHERE source_system = :src "
            f"AND {spec.link} IS NOT NULL AND received_at = now()"
        ),
        {"src": source_system},
    )
    return [str(r[0]) for r in rows]


async def _settle_reviews(conn: AsyncConnection, spec: GoldenSpec, source_system: str) -> None:
    """Open reviews whose record got linked meanwhile are decided by that link."""
    await conn.execute(
        text(
            "UPDATE match_reviews r SET status = CASE WHEN r.candidate_code = s."
            f"{spec.link} THEN 'merged' ELSE 'kept_apart' END, decided_by = :who, "
            f"decided_at = now() FROM {spec.sources} s WHERE r.status = 'open' "
            "AND r.entity = :entity AND r.source_system = :src "
            "AND s.source_system = r.source_system AND s.source_key = r.source_key "
            f"AND s.{spec.link} IS NOT NULL"
        ),
        {"who": RECONCILER, "entity": spec.entity, "src": source_system},
    )


# --- survivorship (database) ---------------------------------------------------------------


def _survivorship_sql(spec: GoldenSpec) -> str:
    values = ", ".join(f"s.record->>'{a}' AS \"{a}\"" for a in spec.survivorship)
    return (
        f"SELECT s.{spec.link} AS code, s.source_system, "
        "extract(epoch FROM s.source_updated_at)::float8 AS updated, "
        f"extract(epoch FROM s.received_at)::float8 AS received, {values} "
        f"FROM {spec.sources} s WHERE s.{spec.link} = ANY($1::text[])"
    )


def _scope_inputs(spec: GoldenSpec) -> list[str]:
    return [c for c in ("business_unit", "region") if c in _table(spec).c]


def resolve_scope(winners: pl.DataFrame, current: pl.DataFrame, spec: GoldenSpec) -> pl.DataFrame:
    """Add the row scope derived (as the import derives it) from the surviving values."""
    inputs = _scope_inputs(spec)
    joined = winners.join(current, on="code", how="left", suffix="_now")
    resolved = joined.with_columns(
        [pl.coalesce(pl.col(c), pl.col(f"{c}_now")).alias(f"__{c}") for c in inputs]
    )
    scoped = resolved.with_columns([pl.col(f"__{c}").alias(c) for c in inputs]).with_columns(
        scope_expr(entity_spec(spec.table))
    )
    return winners.with_columns(scoped["scope"])


async def apply_survivorship(conn: AsyncConnection, spec: GoldenSpec, codes: Iterable[str]) -> int:
    """Re-decide every surviving attribute of these golden rows from all their linked source
    records; write only rows where something won that differs. Returns rows changed."""
    wanted = sorted(set(codes))
    if not wanted:
        return 0
    schema: dict[str, pl.DataType] = {
        "code": pl.String(),
        "source_system": pl.String(),
        "updated": pl.Float64(),
        "received": pl.Float64(),
        **{a: pl.String() for a in spec.survivorship},
    }
    records = await read_frame(conn, _survivorship_sql(spec), schema, wanted)
    if records.is_empty():
        return 0
    winners = survive(records, spec.survivorship)
    inputs = _scope_inputs(spec)
    current = await read_frame(
        conn,
        f"SELECT {spec.key} AS code, {', '.join(inputs)} FROM {spec.table} "
        f"WHERE {spec.key} = ANY($1::text[])",
        {"code": pl.String(), **{c: pl.String() for c in inputs}},
        wanted,
    )
    return await _write_winners(conn, spec, resolve_scope(winners, current, spec))


async def _write_winners(conn: AsyncConnection, spec: GoldenSpec, winners: pl.DataFrame) -> int:
    attributes = list(spec.survivorship)
    new = {a: f"coalesce(CAST(u.{a} AS {_sql_type(conn, spec, a)}), g.{a})" for a in attributes}
    new["scope"] = "u.scope"
    arrays = ", ".join(f"CAST(:{c} AS text[])" for c in ["code", *attributes, "scope"])
    sql = (
        f"UPDATE {spec.table} g SET {', '.join(f'{c} = {v}' for c, v in new.items())}, "
        f"source_updated_at = greatest(g.source_updated_at, (SELECT max(s.source_updated_at) "
        f"FROM {spec.sources} s WHERE s.{spec.link} = g.{spec.key})), updated_at = now() "
        f"FROM unnest({arrays}) AS u(code, {', '.join(attributes)}, scope) "
        f"WHERE g.{spec.key} = u.code AND ({', '.join(f'g.{c}' for c in new)}) "
        f"IS DISTINCT FROM ({', '.join(new.values())})"
    )
    params = {c: winners[c].to_list() for c in ["code", *attributes, "scope"]}
    return int((await conn.execute(text(sql), params)).rowcount or 0)


# --- reconcile -----------------------------------------------------------------------------


async def _create_from(
    conn: AsyncConnection,
    spec: GoldenSpec,
    source_system: str,
    unmatched: pl.DataFrame,
    taken: pl.Series,
) -> tuple[int, list[str]]:
    """New golden rows for unmatched records; (rows created, codes linked)."""
    plan = await asyncio.to_thread(plan_new_codes, unmatched, taken, source_system, spec.rules)
    leaders = plan.filter(pl.col("key") == pl.col("leader"))
    inserted = await insert_goldens(
        conn, spec, source_system, leaders["key"].to_list(), leaders["code"].to_list()
    )
    # A code taken meanwhile (a concurrent import) leaves its group unlinked for the next run.
    linked = plan.filter(pl.col("code").is_in(list(inserted)))
    await link_records(conn, spec, source_system, linked["key"].to_list(), linked["code"].to_list())
    return len(inserted), sorted(inserted)


async def reconcile(
    conn: AsyncConnection, entity_name: str, source_system: str
) -> ReconcileSummary:
    """Match, link, create or queue every unlinked record ``source_system`` sent for
    ``entity_name`` (customers or products), then apply survivorship. Runs in the caller's
    transaction on a connection bound to the tenant."""
    spec = golden_spec(entity_name)
    schema = _match_schema(spec.rules)
    sources = await read_frame(conn, spec.source_sql, schema, source_system)
    matched = created = queued = 0
    touched: list[str] = []
    if not sources.is_empty():
        golden = await read_frame(conn, spec.golden_sql, schema)
        result = await asyncio.to_thread(match_records, sources, golden, spec.rules)
        links = result.links
        matched = await link_records(
            conn, spec, source_system, links["key"].to_list(), links["code"].to_list()
        )
        created, new_codes = await _create_from(
            conn, spec, source_system, result.unmatched, golden["key"]
        )
        await resolve_hierarchy(conn, spec, source_system, new_codes)
        await queue_reviews(conn, spec, source_system, result.reviews)
        queued = result.reviews["key"].n_unique()
        touched = [*links["code"].to_list(), *new_codes]
    touched += await _codes_received_now(conn, spec, source_system)
    updated = await apply_survivorship(conn, spec, touched)
    await _settle_reviews(conn, spec, source_system)
    return ReconcileSummary(matched, created, queued, updated)


# --- the steward's decisions ---------------------------------------------------------------

Decision = Literal["merge", "keep_apart"]


class ReviewNotFound(LookupError):
    """No such review the caller may see (pages answer 404)."""


class ReviewRefused(DomainError):
    """The review cannot be decided (any more); nothing was changed."""

    status_code = 409
    title = "Review cannot be decided"


@dataclass(frozen=True)
class Outcome:
    review_id: int
    entity: str  # customer | product
    source_system: str
    source_key: str
    status: str  # merged | kept_apart
    code: str  # the golden row the record is linked to now
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    siblings_closed: int


def snapshot_columns(spec: GoldenSpec) -> list[str]:
    return [spec.key, *spec.survivorship, "scope"]


async def golden_snapshot(
    conn: AsyncConnection, spec: GoldenSpec, code: str
) -> dict[str, Any] | None:
    """The golden row's surviving attributes (the audit log's before/after)."""
    columns = ", ".join(snapshot_columns(spec))
    row = (
        (
            await conn.execute(
                text(f"SELECT {columns} FROM {spec.table} WHERE {spec.key} = :code"), {"code": code}
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


async def _lock_review(conn: AsyncConnection, review_id: int) -> dict[str, Any] | None:
    row = (
        (
            await conn.execute(
                text("SELECT * FROM match_reviews WHERE id = :id FOR UPDATE"), {"id": review_id}
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


async def _candidate_scope(conn: AsyncConnection, spec: GoldenSpec, code: str) -> str | None:
    found = await conn.execute(
        text(f"SELECT scope FROM {spec.table} WHERE {spec.key} = :code"), {"code": code}
    )
    return found.scalar()


def _refusal(review: Mapping[str, Any]) -> ReviewRefused:
    when = review["decided_at"]
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else "earlier"
    verdict = "merged" if review["status"] == "merged" else "kept apart"
    return ReviewRefused(
        f"Review #{review['id']} was already decided ({verdict} by {review['decided_by']} "
        f"on {stamp}); nothing was changed."
    )


async def _open_review(
    conn: AsyncConnection, review_id: int, scopes: frozenset[str] | None
) -> tuple[dict[str, Any], GoldenSpec, bool]:
    """Lock the review; refuse it unless it is open, visible and its record still unlinked.
    Also says whether the candidate golden row still exists."""
    review = await _lock_review(conn, review_id)
    if review is None:
        raise ReviewNotFound(review_id)
    spec = BY_ENTITY[review["entity"]]
    scope = await _candidate_scope(conn, spec, review["candidate_code"])
    if scopes is not None and scope not in scopes:
        raise ReviewNotFound(review_id)
    if review["status"] != "open":
        raise _refusal(review)
    link = await conn.execute(
        text(
            f"SELECT {spec.link} FROM {spec.sources} WHERE source_system = :src "
            "AND source_key = :key FOR UPDATE"
        ),
        {"src": review["source_system"], "key": review["source_key"]},
    )
    found = link.first()
    if found is None:
        raise ReviewRefused("The source record no longer exists; nothing was changed.")
    if found[0] is not None:
        raise ReviewRefused(
            f"The source record is already linked to {found[0]}; nothing was changed."
        )
    return review, spec, scope is not None


async def _close(conn: AsyncConnection, review: Mapping[str, Any], status: str, actor: str) -> int:
    """Decide the review, and its siblings (same record, other candidates) as kept apart:
    the record is now linked, so it cannot be any of them. Returns siblings closed."""
    await conn.execute(
        text(
            "UPDATE match_reviews SET status = :status, decided_by = :who, decided_at = now() "
            "WHERE id = :id"
        ),
        {"status": status, "who": actor, "id": review["id"]},
    )
    siblings = await conn.execute(
        text(
            "UPDATE match_reviews SET status = 'kept_apart', decided_by = :who, "
            "decided_at = now() WHERE status = 'open' AND entity = :entity "
            "AND source_system = :src AND source_key = :key AND id <> :id"
        ),
        {
            "who": actor,
            "entity": review["entity"],
            "src": review["source_system"],
            "key": review["source_key"],
            "id": review["id"],
        },
    )
    return int(siblings.rowcount or 0)


async def _taken_codes(conn: AsyncConnection, spec: GoldenSpec, candidates: list[str]) -> pl.Series:
    rows = await conn.execute(
        text(f"SELECT {spec.key} FROM {spec.table} WHERE {spec.key} = ANY(CAST(:c AS text[]))"),
        {"c": candidates},
    )
    return pl.Series("code", [str(r[0]) for r in rows], dtype=pl.String)


async def _new_golden_for(conn: AsyncConnection, spec: GoldenSpec, src: str, key: str) -> str:
    """A golden row of its own for one source record (the code rule of :func:`reconcile`)."""
    columns = ["key", "name", "grp", "detail", *[i.column for i in spec.rules.identifiers]]
    alone = pl.DataFrame({c: [key if c == "key" else None] for c in columns}).cast(pl.String)
    taken = await _taken_codes(conn, spec, [key, f"{src.upper()}-{key}"])
    code = str(plan_new_codes(alone, taken, src, spec.rules)["code"][0])
    if code not in await insert_goldens(conn, spec, src, [key], [code]):
        raise ReviewRefused(f"The code {code} was taken meanwhile; nothing was changed.")
    await link_records(conn, spec, src, [key], [code])
    await resolve_hierarchy(conn, spec, src, [code])
    return code


async def decide(
    conn: AsyncConnection,
    review_id: int,
    decision: Decision,
    actor: str,
    scopes: frozenset[str] | None = None,
) -> Outcome:
    """Merge the review's record into its candidate (link + survivorship) or keep it apart
    (a new golden row from the record), in the caller's transaction.

    ``scopes``: the steward's scopes (None: all); a review whose candidate lies outside them
    does not exist for the caller. Raises :class:`ReviewRefused` before changing anything.
    """
    review, spec, candidate_exists = await _open_review(conn, review_id, scopes)
    src, key = review["source_system"], review["source_key"]
    if decision == "merge":
        if not candidate_exists:
            raise ReviewRefused(
                f"The candidate {review['candidate_code']} no longer exists; keep the record "
                "apart instead. Nothing was changed."
            )
        code = review["candidate_code"]
        before = await golden_snapshot(conn, spec, code)
        await link_records(conn, spec, src, [key], [code])
        status = "merged"
    else:
        before = None
        code = await _new_golden_for(conn, spec, src, key)
        status = "kept_apart"
    await apply_survivorship(conn, spec, [code])
    after = await golden_snapshot(conn, spec, code)
    closed = await _close(conn, review, status, actor)
    return Outcome(review_id, spec.entity, src, key, status, code, before, after, closed)


# --- the steward's queue -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPair:
    name: str
    source: str
    golden: str
    differs: bool


@dataclass(frozen=True)
class ReviewView:
    id: int
    entity: str
    source_system: str
    source_key: str
    candidate_code: str
    score: float
    reasons: list[str]
    created_at: datetime
    fields: list[FieldPair]
    candidate_missing: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[ReviewView]
    total: int
    page: int
    size: int
    source_systems: list[str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def shown(value: Any) -> str:
    """How a value is compared and shown: empty for missing, JSON-ish for mappings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={shown(v)}" for k, v in sorted(value.items()))
    return str(value)


def compare(
    spec: GoldenSpec, record: Mapping[str, Any], golden: Mapping[str, Any]
) -> list[FieldPair]:
    pairs = []
    for name in spec.display:
        left, right = shown(record.get(name)), shown(golden.get(name))
        differs = left.strip().casefold() != right.strip().casefold()
        pairs.append(FieldPair(name, left, right, differs))
    return pairs


def _queue_filter(
    entity: str | None, source_system: str | None, scopes: frozenset[str] | None
) -> tuple[Any, list[Any]]:
    scope = func.coalesce(Customer.scope, Product.scope)
    joined = MatchReview.__table__.outerjoin(
        Customer.__table__,
        and_(MatchReview.entity == "customer", Customer.code == MatchReview.candidate_code),
    ).outerjoin(
        Product.__table__,
        and_(MatchReview.entity == "product", Product.sku == MatchReview.candidate_code),
    )
    where: list[Any] = [MatchReview.status == "open"]
    if entity:
        where.append(MatchReview.entity == entity)
    if source_system:
        where.append(MatchReview.source_system == source_system)
    if scopes is not None:
        where.append(scope.in_(sorted(scopes)))
    return joined, where


async def _records(
    conn: AsyncConnection, spec: GoldenSpec, reviews: Sequence[MatchReview | Any]
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, dict[str, Any]]]:
    mine = [r for r in reviews if r.entity == spec.entity]
    if not mine:
        return {}, {}
    source = CustomerSource if spec.entity == "customer" else ProductSource
    pairs = [(r.source_system, r.source_key) for r in mine]
    found = await conn.execute(
        select(source.source_system, source.source_key, source.record).where(
            tuple_(source.source_system, source.source_key).in_(pairs)
        )
    )
    records = {(r[0], r[1]): dict(r[2] or {}) for r in found}
    table = _table(spec)
    codes = sorted({r.candidate_code for r in mine})
    rows = (await conn.execute(select(table).where(table.c[spec.key].in_(codes)))).mappings()
    golden = {str(r[spec.key]): dict(r) for r in rows}
    return records, golden


async def queue_page(
    conn: AsyncConnection,
    *,
    entity: str | None = None,
    source_system: str | None = None,
    scopes: frozenset[str] | None = None,
    page: int = 1,
    size: int = 20,
) -> QueuePage:
    """Open reviews, oldest first, with the source record and the candidate side by side."""
    joined, where = _queue_filter(entity, source_system, scopes)
    total = int(
        (await conn.execute(select(func.count()).select_from(joined).where(*where))).scalar() or 0
    )
    page = min(max(page, 1), max(1, -(-total // size)))
    reviews = list(
        await conn.execute(
            select(MatchReview.__table__)
            .select_from(joined)
            .where(*where)
            .order_by(MatchReview.created_at, MatchReview.id)
            .limit(size)
            .offset((page - 1) * size)
        )
    )
    views: list[ReviewView] = []
    loaded = {s.entity: await _records(conn, s, reviews) for s in (CUSTOMERS, PRODUCTS)}
    for r in reviews:
        spec = BY_ENTITY[r.entity]
        records, golden = loaded[r.entity]
        candidate = golden.get(r.candidate_code)
        fields = compare(spec, records.get((r.source_system, r.source_key), {}), candidate or {})
        views.append(
            ReviewView(
                r.id,
                r.entity,
                r.source_system,
                r.source_key,
                r.candidate_code,
                r.score,
                list(r.reasons or []),
                r.created_at,
                fields,
                candidate is None,
            )
        )
    systems = await conn.execute(
        select(MatchReview.source_system)
        .where(MatchReview.status == "open")
        .distinct()
        .order_by(MatchReview.source_system)
    )
    return QueuePage(views, total, page, size, [str(s[0]) for s in systems])
