"""Survivorship: per attribute, the value of the highest-priority source system that has one
(ties broken by the most recent ``source_updated_at``), decided in polars and written back only
where a winning value differs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.golden.rules import ANY_SOURCE, GoldenSpec, golden_table
from tierline.masterdata.importing.entities import entity as entity_spec
from tierline.masterdata.importing.validate import scope_expr
from tierline.platform.frames import read_frame


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


def _ranked(records: pl.DataFrame, priority: Mapping[str, tuple[str, ...]]) -> pl.DataFrame:
    """Every non-empty value of every record, long (code, source_system, updated, received,
    attribute, value), with the rank its source system has for the attribute (null: not
    allowed to set it)."""
    ranks, wildcards = _priority_frames(priority)
    keep = [
        c
        for c in ("code", "source_system", "source_key", "updated", "received")
        if c in records.columns
    ]
    return (
        records.unpivot(
            index=keep, on=list(priority), variable_name="attribute", value_name="value"
        )
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .join(ranks, on=["attribute", "source_system"], how="left")
        .join(wildcards, on="attribute", how="left")
        .with_columns(pl.coalesce("rank", "wild_rank").alias("rank"))
        .drop("wild_rank")
    )


def _winners(long: pl.DataFrame) -> pl.DataFrame:
    """The winning row per code and attribute: best rank, then the most recent."""
    return (
        long.filter(pl.col("rank").is_not_null())
        .sort(
            ["code", "attribute", "rank", "updated", "received", "source_system"],
            descending=[False, False, False, True, True, False],
            nulls_last=True,
        )
        .group_by(["code", "attribute"], maintain_order=True)
        .first()
    )


def survive(records: pl.DataFrame, priority: Mapping[str, tuple[str, ...]]) -> pl.DataFrame:
    """Winning value per golden code and attribute.

    ``records``: code, source_system, updated (epoch seconds), received (epoch seconds) and one
    text column per attribute. Returns one row per code and one column per attribute; null
    where no source may or does fill it.
    """
    attributes = list(priority)
    winners = _winners(_ranked(records, priority))
    wide = winners.pivot(on="attribute", index="code", values="value")
    missing = [pl.lit(None, dtype=pl.String).alias(a) for a in attributes if a not in wide.columns]
    return wide.with_columns(missing).select("code", *attributes)


def _sql_type(conn: AsyncConnection, spec: GoldenSpec, column: str) -> str:
    return str(golden_table(spec).c[column].type.compile(dialect=conn.dialect))


def _survivorship_sql(spec: GoldenSpec) -> str:
    values = ", ".join(f"s.record->>'{a}' AS \"{a}\"" for a in spec.survivorship)
    return (
        f"SELECT s.{spec.link} AS code, s.source_system, s.source_key, "
        "extract(epoch FROM s.source_updated_at)::float8 AS updated, "
        f"extract(epoch FROM s.received_at)::float8 AS received, {values} "
        f"FROM {spec.sources} s WHERE s.{spec.link} = ANY($1::text[])"
    )


def _scope_inputs(spec: GoldenSpec) -> list[str]:
    return [c for c in ("business_unit", "region") if c in golden_table(spec).c]


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


def _records_schema(spec: GoldenSpec) -> dict[str, pl.DataType]:
    return {
        "code": pl.String(),
        "source_system": pl.String(),
        "source_key": pl.String(),
        "updated": pl.Float64(),
        "received": pl.Float64(),
        **{a: pl.String() for a in spec.survivorship},
    }


async def apply_survivorship(
    conn: AsyncConnection, spec: GoldenSpec, codes: Iterable[str]
) -> list[str]:
    """Re-decide every surviving attribute of these golden rows from all their linked source
    records; write only rows where something won that differs. Returns the codes changed."""
    wanted = sorted(set(codes))
    if not wanted:
        return []
    records = await read_frame(conn, _survivorship_sql(spec), _records_schema(spec), wanted)
    if records.is_empty():
        return []
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


async def _write_winners(
    conn: AsyncConnection, spec: GoldenSpec, winners: pl.DataFrame
) -> list[str]:
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
        f"IS DISTINCT FROM ({', '.join(new.values())}) RETURNING g.{spec.key}"
    )
    params = {c: winners[c].to_list() for c in ["code", *attributes, "scope"]}
    return [str(r[0]) for r in await conn.execute(text(sql), params)]


# What a sender's value lost to, and why (the ``rule`` of a kept field).
PRIORITY, RECENCY, NOT_ALLOWED = "priority", "recency", "not allowed"
MAX_KEPT_RECORDS = 1000  # records whose kept fields an answer lists


def _order(systems: tuple[str, ...]) -> str:
    return " > ".join("any other source" if s == ANY_SOURCE else s for s in systems)


def kept(
    records: pl.DataFrame, priority: Mapping[str, tuple[str, ...]], sender: str, keys: list[str]
) -> list[dict[str, Any]]:
    """For the ``sender``'s records ``keys`` (``records``: every record of their golden rows,
    as :func:`apply_survivorship` reads them): the fields whose sent value is not the golden
    one because another source holds it — by priority, by recency at equal priority, or
    because the sender may not set that field at all. One entry per record that has any."""
    long = _ranked(records, priority)
    winners = _winners(long).select(
        "code",
        "attribute",
        pl.col("value").alias("kept"),
        pl.col("source_system").alias("holder"),
        pl.col("rank").alias("holder_rank"),
    )
    sent = long.filter(
        (pl.col("source_system") == sender) & pl.col("source_key").is_in(keys)
    ).select("code", "source_key", "attribute", pl.col("value").alias("sent"), "rank")
    differs = pl.col("kept").is_null() | (pl.col("kept") != pl.col("sent"))
    outranked = pl.col("holder").is_not_null() & (pl.col("holder") != sender)
    lost = sent.join(winners, on=["code", "attribute"], how="left").filter(
        differs & (pl.col("rank").is_null() | outranked)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in lost.sort("source_key", "attribute").iter_rows(named=True):
        if len(found) >= MAX_KEPT_RECORDS and row["source_key"] not in found:
            break
        found.setdefault(row["source_key"], []).append(_kept_field(row, priority, sender))
    return [{"key": key, "fields": fields} for key, fields in found.items()]


def _kept_field(
    row: dict[str, Any], priority: Mapping[str, tuple[str, ...]], sender: str
) -> dict[str, Any]:
    attribute, holder = row["attribute"], row["holder"]
    systems = priority[attribute]
    if row["rank"] is None:
        allowed = ", ".join(s for s in systems if s != ANY_SOURCE)
        rule, reason = NOT_ALLOWED, f"only {allowed} may set {attribute}"
    elif row["holder_rank"] < row["rank"]:
        rule = PRIORITY
        reason = f"{holder} comes before {sender} for {attribute} ({_order(systems)})"
    else:
        rule = RECENCY
        reason = (
            f"{holder} changed {attribute} more recently, at the same priority ({_order(systems)})"
        )
    return {
        "field": attribute,
        "sent": row["sent"],
        "kept": row["kept"],
        "source": holder,
        "rule": rule,
        "reason": reason,
    }


async def kept_fields(
    conn: AsyncConnection, spec: GoldenSpec, sender: str, keys: list[str]
) -> list[dict[str, Any]]:
    """:func:`kept` for the sender's records ``keys`` as stored now (after survivorship)."""
    if not keys:
        return []
    records = await read_frame(
        conn,
        _survivorship_sql(spec).replace(
            f"s.{spec.link} = ANY($1::text[])",
            f"s.{spec.link} IN (SELECT o.{spec.link} FROM {spec.sources} o "
            f"WHERE o.source_system = $2 AND o.source_key = ANY($1::text[]))",
        ),
        _records_schema(spec),
        keys,
        sender,
    )
    if records.is_empty():
        return []
    return kept(records, spec.survivorship, sender, keys)
