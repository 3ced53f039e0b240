"""Writing validated rows: lookups from the database, COPY into a staging table, one upsert.

Everything runs on the caller's connection inside its single transaction, so an import is
applied whole or not at all. Rows move with COPY (CSV written by polars), never row by row.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import polars as pl
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata import models  # noqa: F401 - registers the tables on TenantBase
from tierline.masterdata.entities import EntitySpec
from tierline.masterdata.importing.reader import LINE
from tierline.masterdata.importing.validate import Lookups, scope_expr
from tierline.platform.db import TENANT_SCHEMA, TenantBase

STAGE = "import_stage"
_DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {"strategic": False},
    "products": {"lifecycle": "active"},
    "locations": {"echelon": 1},
    "order_lines": {"margin_estimated": False, "damaged": False, "documentation_ok": True},
    "inventory_positions": {"on_order": 0.0},
}


def table_of(spec: EntitySpec) -> Table:
    return TenantBase.metadata.tables[f"{TENANT_SCHEMA}.{spec.table}"]


async def _distinct(conn: AsyncConnection, table: str, column: str) -> pl.Series:
    rows = await conn.exec_driver_sql(f'SELECT DISTINCT "{column}" FROM "{table}"')
    return pl.Series(f"{table}.{column}", [r[0] for r in rows], dtype=pl.String)


async def load_lookups(conn: AsyncConnection, spec: EntitySpec) -> Lookups:
    lookups = Lookups()
    for ref in spec.references:
        lookups.keys[f"{ref.table}.{ref.column}"] = await _distinct(conn, ref.table, ref.column)
    if spec.uom is not None:
        products = await conn.exec_driver_sql("SELECT sku, base_uom FROM products")
        lookups.products = pl.DataFrame(
            [tuple(r) for r in products],
            schema={"sku": pl.String, "base_uom": pl.String},
            orient="row",
        )
        conversions = await conn.exec_driver_sql(
            "SELECT sku, uom, factor::float8 FROM uom_conversions"
        )
        lookups.conversions = pl.DataFrame(
            [tuple(r) for r in conversions],
            schema={"sku": pl.String, "uom": pl.String, "factor": pl.Float64},
            orient="row",
        )
    return lookups


def stage_columns(spec: EntitySpec) -> list[str]:
    """The target columns an import writes (everything but ids and timestamps)."""
    skip = {"id", "created_at", "updated_at"}
    return [c.name for c in table_of(spec).columns if c.name not in skip]


async def create_stage(conn: AsyncConnection, spec: EntitySpec) -> None:
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    cols = ", ".join(f'"{c}"' for c in stage_columns(spec))
    await conn.exec_driver_sql(
        f'CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {cols} FROM "{spec.table}" LIMIT 0'
    )


def _hex(values: list[bytes | None]) -> list[str | None]:
    return [None if v is None else "\\x" + v.hex() for v in values]


def row_keys(frame: pl.DataFrame, spec: EntitySpec) -> list[str]:
    return (
        frame.select(pl.concat_str([pl.col(k).cast(pl.String) for k in spec.key], separator="/"))
        .to_series()
        .to_list()
    )


def row_hashes(frame: pl.DataFrame, spec: EntitySpec, key: bytes) -> list[str]:
    """Keyed hashes of the rows' source values: equal input, equal hash; a key, because the
    input includes secret values and a plain hash of a number can be guessed."""
    parts = [pl.col(f.name).cast(pl.String).fill_null("\x00") for f in spec.fields]
    if "__extra" in frame.columns:
        parts.append(pl.col("__extra").fill_null("{}"))
    texts = frame.select(pl.concat_str(parts, separator="\x1f")).to_series().to_list()
    return ["\\x" + hashlib.blake2b(t.encode(), key=key, digest_size=16).hexdigest() for t in texts]


def build_rows(frame: pl.DataFrame, spec: EntitySpec, codec: Any, hash_key: bytes) -> pl.DataFrame:
    """Typed rows as the table stores them: converted units, encrypted money, derived columns."""
    keys = row_keys(frame, spec) if spec.money else []
    out = frame.with_columns(pl.Series("row_hash", row_hashes(frame, spec, hash_key)))
    for f in spec.money:
        values = frame[f.name].to_list()
        sealed = codec.encrypt_many(values, table=spec.table, column=f.name, row_keys=keys)
        out = out.with_columns(pl.Series(f.target, _hex(sealed), dtype=pl.String))
    if spec.uom is not None:
        qty = spec.uom[0]
        out = out.with_columns(
            pl.col(qty).alias("ordered_quantity"),
            (pl.col(qty) * pl.col("__factor")).alias("quantity"),
            pl.col(spec.uom[1]).str.to_uppercase().alias("ordered_uom"),
            *[(pl.col(q) * pl.col("__factor")).alias(q) for q in spec.extra_quantities],
        )
    if spec.scoped:
        out = out.with_columns(scope_expr(spec))
    if spec.extra_attributes:
        out = out.with_columns(pl.col("__extra").fill_null("{}").alias("attributes"))
    if spec.name == "lead_times":
        days = (pl.col("received_on") - pl.col("ordered_on")).dt.total_days()
        out = out.with_columns(days.cast(pl.Float64).alias("lead_time_days"))
    defaults = [pl.col(c).fill_null(v) for c, v in _DEFAULTS.get(spec.name, {}).items()]
    if defaults:
        out = out.with_columns(defaults)
    return out.select(stage_columns(spec))


def csv_payload(rows: pl.DataFrame) -> tuple[bytes, list[str]]:
    """The rows as CSV for COPY (built in a worker thread, not on the event loop)."""
    buffer = io.BytesIO()
    rows.write_csv(
        buffer, include_header=False, null_value="", datetime_format="%Y-%m-%dT%H:%M:%S%.f%:z"
    )
    return buffer.getvalue(), rows.columns


async def copy_rows(conn: AsyncConnection, payload: bytes, columns: list[str]) -> None:
    if not payload:
        return
    raw = (await conn.get_raw_connection()).driver_connection
    source = io.BytesIO(payload)
    await raw.copy_to_table(STAGE, source=source, columns=columns, format="csv")  # type: ignore[union-attr]


def _change_test(spec: EntitySpec, columns: list[str]) -> str:
    if "row_hash" in columns:
        return f'"{spec.table}".row_hash IS DISTINCT FROM EXCLUDED.row_hash'
    rest = [c for c in columns if c not in spec.key]
    left = ", ".join(f'"{spec.table}"."{c}"' for c in rest)
    right = ", ".join(f'EXCLUDED."{c}"' for c in rest)
    return f"({left}) IS DISTINCT FROM ({right})"


async def upsert(conn: AsyncConnection, spec: EntitySpec) -> tuple[int, int]:
    """Update changed rows, then insert new ones; returns (inserted, updated).

    Two set-based statements joined on the natural key instead of ``INSERT … ON CONFLICT``:
    a first load inserts without speculative insertion, a re-load touches only changed rows.
    A row another transaction inserts meanwhile makes the insert fail on the unique key and
    the whole import roll back (run it again); it never half-applies.
    """
    columns = stage_columns(spec)
    names = ", ".join(f'"{c}"' for c in columns)
    match = " AND ".join(f't."{k}" = s."{k}"' for k in spec.key)
    await conn.exec_driver_sql(f"ANALYZE {STAGE}")
    sets = [f'"{c}" = s."{c}"' for c in columns if c not in spec.key]
    if "updated_at" in table_of(spec).columns:
        sets.append("updated_at = now()")
    changed = _change_test(spec, columns).replace(f'"{spec.table}".', "t.")
    changed = changed.replace("EXCLUDED.", "s.")
    updated = await conn.exec_driver_sql(
        f'UPDATE "{spec.table}" t SET {", ".join(sets)} FROM {STAGE} s WHERE {match} AND {changed}'
    )
    inserted = await conn.exec_driver_sql(
        f'INSERT INTO "{spec.table}" ({names}) SELECT {names} FROM {STAGE} s '
        f'WHERE NOT EXISTS (SELECT 1 FROM "{spec.table}" t WHERE {match})'
    )
    return int(inserted.rowcount), int(updated.rowcount)


async def record_sources(conn: AsyncConnection, spec: EntitySpec, source_system: str) -> None:
    """Keep each customer/product record as its source system sent it (golden-record input)."""
    if spec.name not in ("customers", "products"):
        return
    entity = "customer" if spec.name == "customers" else "product"
    key, link = ("code", "customer_code") if entity == "customer" else ("sku", "sku")
    link_value = key if source_system == "erp" else "NULL"
    await conn.execute(
        text(
            f"INSERT INTO {entity}_sources (source_system, source_key, {link}, record, "
            f"source_updated_at) SELECT :src, s.{key}, {link_value}, "
            "to_jsonb(s) - 'row_hash', s.source_updated_at FROM import_stage s "
            f"ON CONFLICT (source_system, source_key) DO UPDATE SET record = EXCLUDED.record, "
            "received_at = now(), source_updated_at = EXCLUDED.source_updated_at"
        ),
        {"src": source_system},
    )


def stage_frame_lines(frame: pl.DataFrame) -> pl.Series:
    return frame[LINE]
