"""Writing validated rows: lookups from the database, COPY into a staging table, one upsert.

Everything runs on the caller's connection inside its single transaction, so an import is
applied whole or not at all. Rows move with COPY (binary, encoded by numpy, where the table's
column types allow; else CSV written by polars), never row by row.
"""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import polars as pl
from polars_hash import CryptographicHashingNameSpace
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata import models  # noqa: F401 - registers the tables on TenantBase
from tierline.masterdata.importing import pgbinary
from tierline.masterdata.importing.entities import EntitySpec
from tierline.masterdata.importing.reader import LINE
from tierline.masterdata.importing.validate import Lookups, base_quantity, scope_expr
from tierline.masterdata.network import models as network_models  # noqa: F401 - the same
from tierline.platform import changes
from tierline.platform.db import TENANT_SCHEMA, TenantBase
from tierline.platform.encryption.codec import RowKeys, SealingFloats
from tierline.platform.frames import read_frame

STAGE = "import_stage"
# From this many rows a chunk's money is sealed in the helper process (``sealer``): below it
# the round trip is not worth it.
SEAL_IN_HELPER_ROWS = 10_000
ROW_HASH_SIZE = 16  # bytes of HMAC-SHA256 kept: change detection, not a signature
_DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {"strategic": False},
    "products": {"lifecycle": "active"},
    "locations": {"echelon": 1},
    "order_lines": {"margin_estimated": False, "damaged": False, "documentation_ok": True},
    "inventory_positions": {"on_order": 0.0},
    "uom_conversions": {"denominator": 1},
    "sourcing_lanes": {"calendar": "calendar"},
    "demand_forecasts": {"period_days": 7},
    "erp_parameters": {"days_basis": "calendar"},
}


def table_of(spec: EntitySpec) -> Table:
    return TenantBase.metadata.tables[f"{TENANT_SCHEMA}.{spec.table}"]


async def load_lookups(conn: AsyncConnection, spec: EntitySpec) -> Lookups:
    """What validation checks references and units against, read with COPY (tens of
    thousands of keys: no Python object per row)."""
    lookups = Lookups()
    for ref in spec.references:
        found = await read_frame(
            conn, f'SELECT DISTINCT "{ref.column}" FROM "{ref.table}"', {ref.column: pl.String}
        )
        lookups.keys[f"{ref.table}.{ref.column}"] = found.to_series().alias(
            f"{ref.table}.{ref.column}"
        )
    if spec.name == "sourcing_lanes":
        # A lane's source is a supplier or a location; cycles are checked against the lanes
        # already there (a file's row replaces the stored lane with its key).
        found = await read_frame(conn, "SELECT code FROM suppliers", {"code": pl.String})
        lookups.keys["suppliers.code"] = found.to_series().alias("suppliers.code")
        lookups.lanes = await read_frame(
            conn,
            "SELECT location_code, source_code, source_kind FROM sourcing_lanes",
            {"location_code": pl.String, "source_code": pl.String, "source_kind": pl.String},
        )
    if spec.uom is not None:
        lookups.products = await read_frame(
            conn, "SELECT sku, base_uom FROM products", {"sku": pl.String, "base_uom": pl.String}
        )
        lookups.conversions = await read_frame(
            conn,
            "SELECT sku, uom, factor::float8, denominator::float8 FROM uom_conversions",
            {"sku": pl.String, "uom": pl.String, "factor": pl.Float64, "denominator": pl.Float64},
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


def row_keys(frame: pl.DataFrame, spec: EntitySpec) -> RowKeys:
    """Each row's natural key as sealing binds its values to it (``a/b``), built by polars:
    no Python string per row."""
    keys = frame.select(
        pl.concat_str([pl.col(k).cast(pl.String) for k in spec.key], separator="/")
    ).to_series()
    if keys.null_count():
        raise ValueError("a row without its natural key cannot be sealed")
    data = keys.str.join("").item().encode("utf-8") if len(keys) else b""
    return RowKeys(data, keys.str.len_bytes().to_numpy().astype(np.int64))


def row_hashes(frame: pl.DataFrame, spec: EntitySpec, key: bytes) -> pl.Series:
    """Keyed hashes of the rows' source values as mapped from the file (trimmed text, values
    translated by the profile): equal input, equal hash. Hashing the text rather than the
    typed values spares formatting every number and date back to text. Keyed (HMAC-SHA256,
    cut to 128 bits), because the input includes secret values and a plain hash of a number
    can be guessed; computed by polars-hash over the whole column, not row by row in Python."""
    # Mapped columns are text already; a cast to the same type still costs a third of the
    # concatenation, so only other types are cast.
    parts = [
        (col if frame.schema[f.name] == pl.String else col.cast(pl.String)).fill_null("\x00")
        for f in spec.fields
        for col in [pl.col(f.name)]
    ]
    if "__extra" in frame.columns:
        parts.append(pl.col("__extra").fill_null("{}"))
    texts = pl.concat_str(parts, separator="\x1f")
    digest = CryptographicHashingNameSpace(texts).hmac_sha256(key=key.hex())
    return frame.select(
        digest.str.slice(0, 2 * ROW_HASH_SIZE).str.decode("hex").alias("row_hash")
    ).to_series()


def build_rows(
    frame: pl.DataFrame, spec: EntitySpec, codec: Any, money: SealingFloats | None = None
) -> pl.DataFrame:
    """Typed rows, with their ``row_hash`` (see :func:`row_hashes`), as the table stores
    them: converted units, encrypted money, derived columns. Binary columns (hashes,
    ciphertexts) stay binary. ``money``: the frame's money, sealing since
    :func:`start_sealing_money`."""
    out = frame
    if spec.money and frame.height:
        out = out.with_columns(
            _money_columns(spec, money or start_sealing_money(frame, spec, codec))
        )
    elif spec.money:
        out = out.with_columns(pl.lit(None, pl.Binary).alias(f.target) for f in spec.money)
    if spec.uom is not None and spec.name == "order_lines":
        qty = spec.uom[0]
        out = out.with_columns(
            pl.col(qty).alias("ordered_quantity"),
            base_quantity(pl.col(qty)).alias("quantity"),
            pl.col(spec.uom[1]).str.to_uppercase().alias("ordered_uom"),
            *[base_quantity(pl.col(q)).alias(q) for q in spec.extra_quantities],
        )
    elif spec.uom is not None:
        # Quantities stored in base units; the unit they came in is kept (ERP write-back).
        qty, unit, _ = spec.uom
        out = out.with_columns(
            *[base_quantity(pl.col(q)).alias(q) for q in (qty, *spec.extra_quantities)],
            pl.col(unit).str.to_uppercase(),
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


def start_sealing_money(frame: pl.DataFrame, spec: EntitySpec, codec: Any) -> SealingFloats:
    """Start sealing the frame's money columns: a large frame in the helper process, where
    it goes on while this process does other work; collected by :func:`build_rows`."""
    money = {
        f.name: (frame[f.name].fill_null(0.0).to_numpy(), frame[f.name].is_not_null().to_numpy())
        for f in spec.money
    }
    return codec.start_encrypt_floats(  # type: ignore[no-any-return]
        money,
        table=spec.table,
        row_keys=row_keys(frame, spec),
        in_helper_process=frame.height >= SEAL_IN_HELPER_ROWS,
    )


def _money_columns(spec: EntitySpec, money: SealingFloats) -> list[pl.Series]:
    """The sealed money as fixed-size byte arrays (``Array(UInt8, n)``, null where there is
    no value): binary COPY writes them as they are, CSV first turns them into bytes."""
    sealed = money.matrices()
    columns = []
    for f in spec.money:
        matrix, present = sealed[f.name]
        column = pl.Series(f.target, matrix)
        if not present.all():
            column = pl.select(
                pl.when(pl.lit(pl.Series(present))).then(pl.lit(column)).alias(f.target)
            ).to_series()
        columns.append(column)
    return columns


@functools.cache
def binary_types(spec: EntitySpec) -> dict[str, str] | None:
    """Each written column's type for binary COPY (see ``pgbinary``), or None when a column
    has a type it does not encode (JSON attributes, …): such tables are copied as CSV."""
    columns = table_of(spec).columns
    found = {}
    for name in stage_columns(spec):
        kind = _binary_type(columns[name].type)
        if kind is None:
            return None
        found[name] = kind
    return found


def _binary_type(kind: Any) -> str | None:
    from sqlalchemy import types

    # Order matters: BigInteger is an Integer, Float is a Numeric, Text is a String.
    if isinstance(kind, types.BigInteger):
        return "int8"
    if isinstance(kind, types.SmallInteger):
        return None
    if isinstance(kind, types.Integer):
        return "int4"
    if isinstance(kind, types.Float):
        return "float8" if (kind.precision or 53) > 24 else None
    if isinstance(kind, types.Numeric):
        scale = kind.scale
        return f"numeric:{scale}" if scale is not None and 0 <= scale <= 4 else None
    if isinstance(kind, types.Boolean):
        return "bool"
    if isinstance(kind, types.DateTime):
        return "timestamptz" if kind.timezone else None
    if isinstance(kind, types.Date):
        return "date"
    if isinstance(kind, types.LargeBinary):
        return "bytea"
    if isinstance(kind, types.String) and not isinstance(kind, types.Enum):
        return "text"
    return None


Payload = bytes | Sequence[bytes | memoryview]  # one buffer, or pieces sent in order


def copy_payload(rows: pl.DataFrame, spec: EntitySpec) -> tuple[Payload, list[str], str]:
    """The rows for COPY (built in a worker thread, not on the event loop): payload, columns
    and format. Binary where every column's type allows (no text for the database to parse,
    raw bytes instead of hex), else CSV."""
    kinds = binary_types(spec)
    if kinds is not None:
        return pgbinary.binary_pieces(rows, kinds), rows.columns, "binary"
    return *csv_payload(rows), "csv"


def csv_payload(rows: pl.DataFrame) -> tuple[bytes, list[str]]:
    """The rows as CSV for COPY (built in a worker thread, not on the event loop); binary
    columns (and fixed-size byte arrays) in PostgreSQL's hex form."""
    arrays = [
        pgbinary.array_as_binary(rows[name])
        for name, dtype in rows.schema.items()
        if isinstance(dtype, pl.Array)
    ]
    if arrays:
        rows = rows.with_columns(arrays)
    hexed = [
        pl.concat_str([pl.lit("\\x"), pl.col(name).bin.encode("hex")]).alias(name)
        for name, dtype in rows.schema.items()
        if dtype == pl.Binary
    ]
    if hexed:
        rows = rows.with_columns(hexed)
    buffer = io.BytesIO()
    rows.write_csv(
        buffer, include_header=False, null_value="", datetime_format="%Y-%m-%dT%H:%M:%S%.f%:z"
    )
    return buffer.getvalue(), rows.columns


async def copy_rows(
    conn: AsyncConnection,
    payload: Payload,
    columns: list[str],
    table: str = STAGE,
    copy_format: str = "csv",
) -> None:
    if not payload:
        return
    changes.mark_written(conn)  # the driver's COPY bypasses SQLAlchemy's statement events
    raw = (await conn.get_raw_connection()).driver_connection
    await raw.copy_to_table(  # type: ignore[union-attr]
        table, source=_pieces(payload), columns=columns, format=copy_format
    )


async def _pieces(payload: Payload, size: int = 1 << 22) -> AsyncIterator[memoryview]:
    """The payload in large pieces straight from memory (a file-like source would be read
    through a worker thread 512 kB at a time, each read waiting for the GIL); views, not
    copies."""
    for buffer in [payload] if isinstance(payload, bytes) else payload:
        view = memoryview(buffer).cast("B")
        for start in range(0, len(view), size):
            yield view[start : start + size]


def direct_path(spec: EntitySpec) -> bool:
    """Whether new rows may be copied straight into the table (and unchanged rows skipped):
    entities whose rows carry a ``row_hash`` and that do not feed golden records (those read
    every row of the file from the staging table)."""
    return spec.name not in ("customers", "products") and "row_hash" in stage_columns(spec)


async def has_rows(conn: AsyncConnection, spec: EntitySpec) -> bool:
    found = await conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{spec.table}")')
    return bool(found.scalar())


def _sql_type(spec: EntitySpec, column: str) -> str:
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(table_of(spec).columns[column].type.compile(dialect=dialect))


async def compare_existing(
    conn: AsyncConnection, spec: EntitySpec, rows: pl.DataFrame
) -> tuple[list[int], list[int]]:
    """Positions in ``rows`` (hashed, typed) of the keys already in the table whose stored
    hash is equal (unchanged) and different (changed). One query per chunk: the keys and
    hashes go as arrays, the join runs on the natural-key index, and two arrays come back."""
    names = [f"k{i}" for i in range(len(spec.key))]
    arrays = [f"${i + 1}::{_sql_type(spec, k)}[]" for i, k in enumerate(spec.key)]
    arrays.append(f"${len(arrays) + 1}::bytea[]")
    match = " AND ".join(f't."{k}" = s.{n}' for k, n in zip(spec.key, names, strict=True))
    same = "t.row_hash IS NOT DISTINCT FROM s.h"
    raw = (await conn.get_raw_connection()).driver_connection
    # LIMIT 1 keeps the lateral subquery from being flattened into a hash join that would
    # read the whole table for every chunk: one index probe per key instead.
    found = await raw.fetchrow(  # type: ignore[union-attr]
        f"SELECT array_agg(s.pos - 1) FILTER (WHERE {same}), "
        f"array_agg(s.pos - 1) FILTER (WHERE NOT ({same})) "
        f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS s({', '.join(names)}, h, pos) "
        f'CROSS JOIN LATERAL (SELECT t.row_hash FROM "{spec.table}" t WHERE {match} LIMIT 1) t',
        *[rows[k].to_list() for k in spec.key],
        rows["row_hash"].to_list(),
    )
    return list(found[0] or []), list(found[1] or [])


async def lock_for_first_load(conn: AsyncConnection, spec: EntitySpec) -> bool:
    """Lock the table against every other session until commit; whether it is still empty.

    Taken before its indexes are dropped, so that no other import can slip rows in between
    this look and the load (it waits, then finds the rows and looks them up)."""
    await conn.exec_driver_sql(f'LOCK TABLE "{spec.table}" IN ACCESS EXCLUSIVE MODE')
    return not await has_rows(conn, spec)


async def drop_indexes(conn: AsyncConnection, spec: EntitySpec) -> list[str]:
    """Drop the table's indexes: plain ones, and primary-key and unique constraints no
    foreign key depends on; the statements that build them again with
    :func:`rebuild_indexes` in the same transaction (constraints first). A large load into
    an empty table then builds each index once by sorting instead of growing it row by row.

    Call with the table locked and empty (:func:`lock_for_first_load`): uniqueness is then
    kept by the import itself (keys repeated in the file are refused before anything is
    written) and checked again when the constraints are rebuilt."""
    rows = await conn.exec_driver_sql(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), k.conname, "
        "pg_get_constraintdef(k.oid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid "
        f"WHERE i.indrelid = '\"{spec.table}\"'::regclass AND i.indisvalid "
        "AND (k.oid IS NULL AND NOT i.indisunique OR k.contype IN ('p', 'u')) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint f "
        "WHERE f.contype = 'f' AND f.conindid = i.indexrelid) "
        "ORDER BY k.contype = 'p' DESC NULLS LAST, k.oid IS NULL, c.relname"
    )
    found = [tuple(r) for r in rows]
    for index, _, constraint, _ in found:
        if constraint is None:
            await conn.exec_driver_sql(f'DROP INDEX "{index}"')
        else:
            await conn.exec_driver_sql(f'ALTER TABLE "{spec.table}" DROP CONSTRAINT "{constraint}"')
    return [
        definition
        if constraint is None
        else f'ALTER TABLE "{spec.table}" ADD CONSTRAINT "{constraint}" {constraint_def}'
        for _, definition, constraint, constraint_def in found
    ]


async def rebuild_indexes(conn: AsyncConnection, definitions: list[str]) -> None:
    if not definitions:
        return
    await conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for definition in definitions:
        await conn.exec_driver_sql(definition)


def split_rows(
    typed: pl.DataFrame, existing: tuple[list[int], list[int]] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(new rows, changed rows) of a hashed chunk; rows whose hash is unchanged are dropped."""
    if existing is None or not (existing[0] or existing[1]):
        return typed, typed.clear()
    unchanged, changed = existing
    state = np.zeros(typed.height, dtype=np.int8)
    state[np.asarray(unchanged, dtype=np.int64)] = 1
    state[np.asarray(changed, dtype=np.int64)] = 2
    return typed.filter(pl.Series(state == 0)), typed.filter(pl.Series(state == 2))


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
