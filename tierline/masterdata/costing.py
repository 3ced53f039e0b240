"""Unit costs per SKU from the order history: (revenue - margin) / base quantity over a
window. Revenue and margin are ciphertext, decrypted in the server in batches; the result is
money derived from encrypted values, so callers mask it without ``margin:read`` and never
store it in clear."""

from __future__ import annotations

import asyncio
from datetime import date

import numpy as np
import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.encryption import FieldCodec
from tierline.platform.frames import read_frame

DECRYPT_BATCH = 100_000
COST_COLUMNS = {"sku": pl.String, "unit_cost": pl.Float64}


def _decrypt(codec: FieldCodec, frame: pl.DataFrame) -> pl.DataFrame:
    keys = (frame["order_no"] + "/" + frame["line_no"]).to_list()
    out = {}
    for column in ("revenue", "margin"):
        blobs = frame[f"{column}_enc"].str.decode("hex").to_list()
        values = np.empty(len(blobs), dtype=np.float64)
        for start in range(0, len(blobs), DECRYPT_BATCH):
            stop = start + DECRYPT_BATCH
            values[start:stop] = codec.decrypt_floats(
                blobs[start:stop], table="order_lines", column=column, row_keys=keys[start:stop]
            )
        out[column] = values
    return frame.select("sku", "quantity").with_columns(
        pl.Series("cost", out["revenue"] - out["margin"]).fill_nan(None)
    )


async def unit_costs(conn: AsyncConnection, codec: FieldCodec, since: date) -> pl.DataFrame:
    """``sku, unit_cost`` for SKUs with costed sales since ``since`` (lines without revenue
    or margin, or without quantity, are left out)."""
    sql = (
        "SELECT order_no, line_no::text, sku, quantity::float8, "
        "encode(revenue_enc, 'hex') AS revenue_enc, encode(margin_enc, 'hex') AS margin_enc "
        "FROM order_lines WHERE order_date >= $1 AND quantity > 0 "
        "AND revenue_enc IS NOT NULL AND margin_enc IS NOT NULL"
    )
    schema = {
        "order_no": pl.String,
        "line_no": pl.String,
        "sku": pl.String,
        "quantity": pl.Float64,
        "revenue_enc": pl.String,
        "margin_enc": pl.String,
    }
    lines = await read_frame(conn, sql, schema, since)
    if lines.is_empty():
        return pl.DataFrame(schema=COST_COLUMNS)
    costed = await asyncio.to_thread(_decrypt, codec, lines)
    return (
        costed.drop_nulls("cost")
        .group_by("sku")
        .agg((pl.col("cost").sum() / pl.col("quantity").sum()).alias("unit_cost"))
        .filter(pl.col("unit_cost") > 0)
        .sort("sku")
    )
