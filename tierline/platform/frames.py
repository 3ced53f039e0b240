"""Moving polars frames in and out of PostgreSQL with COPY (no per-row Python)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform import changes


async def _driver(conn: AsyncConnection) -> Any:
    return (await conn.get_raw_connection()).driver_connection


ColumnTypes = Mapping[str, pl.DataType | type[pl.DataType]]


async def read_frame(
    conn: AsyncConnection, sql: str, schema: ColumnTypes, *args: Any
) -> pl.DataFrame:
    """Run ``sql`` through ``COPY ... TO STDOUT`` into a polars frame (no per-row Python)."""
    raw = await _driver(conn)
    buffer = io.BytesIO()
    await raw.copy_from_query(sql, *args, output=buffer, format="csv", header=True)
    buffer.seek(0)
    return pl.read_csv(buffer, schema=dict(schema), infer_schema=False)


def _pg_array(column: pl.Expr) -> pl.Expr:
    """A list of plain strings as a PostgreSQL array literal (``{a,b}``)."""
    return pl.concat_str(pl.lit("{"), column.list.join(","), pl.lit("}"))


async def copy_frame(conn: AsyncConnection, table: str, frame: pl.DataFrame) -> int:
    """``COPY`` ``frame`` into ``table`` (columns by name); list columns become arrays.

    List elements must be identifier-like strings (no commas, braces or quotes): this writes
    array literals without quoting, which is all the callers need.
    """
    if frame.is_empty():
        return 0
    lists = [n for n, t in frame.schema.items() if isinstance(t, pl.List)]
    frame = frame.with_columns(_pg_array(pl.col(n)).alias(n) for n in lists)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="")
    buffer.seek(0)
    raw = await _driver(conn)
    changes.mark_written(conn)  # the driver's COPY bypasses SQLAlchemy's statement events
    await raw.copy_to_table(table, source=buffer, columns=list(frame.columns), format="csv")
    return frame.height
