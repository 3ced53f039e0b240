"""Order lines and cost-to-serve records as polars frames (money decrypted where asked), for the
domains that aggregate money server-side (commercial analytics). Rows travel with COPY; the
AES-GCM opens run in a worker thread in batches, so requests keep flowing meanwhile.

A value that fails to authenticate becomes null and is counted (``unreadable``), never a crash
and never a silent zero: the caller shows the count.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.frames import read_frame

DECRYPT_BATCH = 250_000
PIPELINE_SLICES = 8
COST_COLUMNS = ("freight", "handling", "returns")


@dataclass(frozen=True)
class MoneyFrame:
    """Rows with money as Float64 (null where none was stored or it did not open)."""

    frame: pl.DataFrame
    unreadable: int  # stored values that failed their integrity check


def _open(
    codec: FieldCodec, frame: pl.DataFrame, table: str, columns: tuple[str, ...], keys: list[str]
) -> tuple[list[pl.Series], int]:
    out: list[pl.Series] = []
    bad = 0
    for column in columns:
        blobs = frame[f"{column}_enc"].str.decode("hex").to_list()
        values = np.empty(len(blobs), dtype=np.float64)
        for start in range(0, len(blobs), DECRYPT_BATCH):
            stop = start + DECRYPT_BATCH
            values[start:stop] = codec.decrypt_floats(
                blobs[start:stop],
                table=table,
                column=column,
                row_keys=keys[start:stop],
                on_error="mark",
            )
        stored = frame[f"{column}_enc"].is_not_null().to_numpy()
        bad += int((stored & np.isnan(values)).sum())
        out.append(pl.Series(column, values).fill_nan(None))
    return out, bad


def _decrypt_lines(codec: FieldCodec, frame: pl.DataFrame) -> MoneyFrame:
    keys = (frame["order_no"] + "/" + frame["line_no"]).to_list()
    money, bad = _open(codec, frame, "order_lines", ("revenue", "margin"), keys)
    # The natural key served to authenticate the values; the row id stays to tell lines apart
    # (dropping two string columns of millions of rows early halves the frame).
    opened = frame.drop("revenue_enc", "margin_enc", "order_no", "line_no")
    return MoneyFrame(opened.with_columns(money), bad)


async def _read_lines(conn: AsyncConnection, start: date, end: date) -> pl.DataFrame:
    sql = (
        "SELECT id AS line, order_no, line_no, customer_code, sku, order_date, quantity, "
        "currency, encode(revenue_enc, 'hex') AS revenue_enc, "
        "encode(margin_enc, 'hex') AS margin_enc FROM order_lines "
        "WHERE order_date BETWEEN $1 AND $2"
    )
    schema = {
        "line": pl.Int64,
        "order_no": pl.String,
        "line_no": pl.String,
        "customer_code": pl.String,
        "sku": pl.String,
        "order_date": pl.Date,
        "quantity": pl.Float64,
        "currency": pl.String,
        "revenue_enc": pl.String,
        "margin_enc": pl.String,
    }
    return await read_frame(conn, sql, schema, start, end)


def _slices(start: date, end: date, parts: int) -> list[tuple[date, date]]:
    days = (end - start).days + 1
    step = max(1, -(-days // parts))
    return [
        (start + timedelta(days=i), min(end, start + timedelta(days=i + step - 1)))
        for i in range(0, days, step)
    ]


async def order_lines_with_money(
    conn: AsyncConnection, codec: FieldCodec, start: date, end: date
) -> MoneyFrame:
    """Order lines ordered from ``start`` through ``end``: ``line`` (the row id, stable order),
    ``customer_code``, ``sku``, ``order_date``, ``quantity``, ``currency``, ``revenue``,
    ``margin``. Read slice by slice: while a worker thread decrypts
    one slice, PostgreSQL already produces the next (the two run on different cores)."""
    slices = _slices(start, end, PIPELINE_SLICES) if end >= start else [(start, end)]
    frame = await _read_lines(conn, *slices[0])
    done: list[MoneyFrame] = []
    for next_slice in slices[1:]:
        opening = asyncio.ensure_future(asyncio.to_thread(_decrypt_lines, codec, frame))
        try:
            frame = await _read_lines(conn, *next_slice)
        finally:
            done.append(await opening)
    done.append(await asyncio.to_thread(_decrypt_lines, codec, frame))
    return MoneyFrame(
        pl.concat([d.frame for d in done], how="vertical"), sum(d.unreadable for d in done)
    )


def _decrypt_costs(codec: FieldCodec, frame: pl.DataFrame) -> MoneyFrame:
    keys = (frame["customer_code"] + "/" + frame["period_start"].cast(pl.String)).to_list()
    money, bad = _open(codec, frame, "cost_to_serve", COST_COLUMNS, keys)
    return MoneyFrame(frame.drop(*(f"{c}_enc" for c in COST_COLUMNS)).with_columns(money), bad)


async def cost_records_with_money(
    conn: AsyncConnection, codec: FieldCodec, start: date, end: date
) -> MoneyFrame:
    """Cost-to-serve records whose period starts from ``start`` through ``end``:
    ``customer_code``, ``period_start``, ``freight``, ``handling``, ``returns``."""
    cipher = ", ".join(f"encode({c}_enc, 'hex') AS {c}_enc" for c in COST_COLUMNS)
    sql = (
        f"SELECT customer_code, period_start, {cipher} FROM cost_to_serve "
        "WHERE period_start BETWEEN $1 AND $2"
    )
    schema = {
        "customer_code": pl.String,
        "period_start": pl.Date,
        **{f"{c}_enc": pl.String for c in COST_COLUMNS},
    }
    frame = await read_frame(conn, sql, schema, start, end)
    return await asyncio.to_thread(_decrypt_costs, codec, frame)


async def product_weights(conn: AsyncConnection) -> pl.DataFrame:
    """``sku``, ``weight_kg`` (the product attribute, null where absent or not a number)."""
    sql = (
        "SELECT sku, CASE WHEN attributes->>'weight_kg' ~ '^[0-9]+(\\.[0-9]+)?$' "
        "THEN attributes->>'weight_kg' END AS weight_kg FROM products"
    )
    return await read_frame(conn, sql, {"sku": pl.String, "weight_kg": pl.Float64})


async def customer_frame(conn: AsyncConnection) -> pl.DataFrame:
    """Every customer's ``customer_code``, ``name``, ``region``, ``account_manager_email`` and
    ``scope`` (no money)."""
    sql = "SELECT code AS customer_code, name, region, account_manager_email, scope FROM customers"
    schema = {
        "customer_code": pl.String,
        "name": pl.String,
        "region": pl.String,
        "account_manager_email": pl.String,
        "scope": pl.String,
    }
    return await read_frame(conn, sql, schema)


async def order_lines_plain(conn: AsyncConnection, start: date, end: date) -> pl.DataFrame:
    """Order lines ordered from ``start`` through ``end`` without money: ``customer_code``,
    ``order_no``, ``sku``, ``order_date``, ``quantity``."""
    sql = (
        "SELECT customer_code, order_no, sku, order_date, quantity FROM order_lines "
        "WHERE order_date BETWEEN $1 AND $2"
    )
    schema = {
        "customer_code": pl.String,
        "order_no": pl.String,
        "sku": pl.String,
        "order_date": pl.Date,
        "quantity": pl.Float64,
    }
    return await read_frame(conn, sql, schema, start, end)


async def latest_order_date(conn: AsyncConnection) -> date | None:
    """The newest order date in the history (None when there is none)."""
    value = (await conn.exec_driver_sql("SELECT max(order_date) FROM order_lines")).scalar()
    return value if isinstance(value, date) else None


async def revenue_of_customers(
    conn: AsyncConnection, codec: FieldCodec, codes: list[str], start: date, end: date
) -> MoneyFrame:
    """``customer_code``, ``revenue`` (the sum over its lines ordered from ``start`` through
    ``end``) of each of ``codes`` with lines; only those customers' lines are read."""
    if not codes:
        return MoneyFrame(
            pl.DataFrame(schema={"customer_code": pl.String, "revenue": pl.Float64}), 0
        )
    sql = (
        "SELECT order_no, line_no, customer_code, encode(revenue_enc, 'hex') AS revenue_enc, "
        "encode(margin_enc, 'hex') AS margin_enc FROM order_lines "
        "WHERE customer_code = ANY($1::text[]) AND order_date BETWEEN $2 AND $3"
    )
    schema = {
        "order_no": pl.String,
        "line_no": pl.String,
        "customer_code": pl.String,
        "revenue_enc": pl.String,
        "margin_enc": pl.String,
    }
    frame = await read_frame(conn, sql, schema, codes, start, end)
    opened = await asyncio.to_thread(_decrypt_lines, codec, frame)
    sums = opened.frame.group_by("customer_code").agg(pl.col("revenue").sum())
    return MoneyFrame(sums, opened.unreadable)
