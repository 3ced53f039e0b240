"""Reconciling source records into golden records: one customer (or product) however many
source systems describe it.

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
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.golden.matching import match_records, plan_new_codes
from tierline.masterdata.golden.rules import GoldenSpec, MatchRules, golden_spec, golden_table
from tierline.masterdata.golden.survivorship import apply_survivorship
from tierline.platform.frames import read_frame

RECONCILER = "system:reconcile"  # decided_by of reviews a later match settled


@dataclass(frozen=True)
class ReconcileSummary:
    matched: int = 0  # source records linked to an existing golden row
    created: int = 0  # golden rows created from source records
    queued: int = 0  # source records left for a data steward
    updated: int = 0  # golden rows whose values survivorship changed
    # Which: what each record's golden row went through (see ``pipeline.golden_outcomes``).
    created_codes: frozenset[str] = field(default=frozenset(), compare=False)
    updated_codes: frozenset[str] = field(default=frozenset(), compare=False)


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
    return [c.name for c in golden_table(spec).columns if c.name not in skip]


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
    new_codes: list[str] = []
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
    return ReconcileSummary(
        matched, created, queued, len(updated), frozenset(new_codes), frozenset(updated)
    )
