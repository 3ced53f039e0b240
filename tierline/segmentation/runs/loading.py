"""Reading a run's inputs from the tenant schema into polars frames.

Order lines of the window travel with ``COPY … TO STDOUT`` (no per-row Python); revenue and
margin are decrypted server-side only when the scheme uses them, in a worker thread, in
batches. A ciphertext that does not open stops the run: classifying on a silently missing
revenue would move customers for the wrong reason.

Customer schemes classify the accounts that order (sold-to and ship-to) plus any account with
order lines in the window; global and parent accounts carry no orders of their own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.frames import read_frame
from tierline.segmentation.runs.features import FIRST_ORDER, required_order_columns
from tierline.segmentation.schemes.document import Scheme, scheme_to_dict

DECRYPT_BATCH = 250_000
PIPELINE_SLICES = 8
DECRYPTED_COLUMNS = (
    "order_no",
    "line_no",
    "customer_code",
    "sku",
    "order_date",
    "quantity",
    "revenue",
    "margin",
)

CUSTOMER_ATTRS = {
    "strategic": pl.Boolean,
    "region": pl.String,
    "country": pl.String,
    "channel": pl.String,
    "crm_tier": pl.String,
    "account_type": pl.String,
    "business_unit": pl.String,
}
PRODUCT_ATTRS = {
    "product_line": pl.String,
    "category": pl.String,
    "lifecycle": pl.String,
    "base_uom": pl.String,
    "business_unit": pl.String,
}


class UnreadableMoney(RuntimeError):
    """Stored revenue or margin that does not decrypt with the tenant's keys."""


@dataclass(frozen=True)
class RunInputs:
    orders: pl.DataFrame
    entities: pl.DataFrame
    window_start: date
    window_end: date
    decrypted: tuple[str, ...]


def window_start(scheme: Scheme, as_of: date) -> date:
    """First day inside the trailing window (the window ends at ``as_of`` inclusive)."""
    months = scheme.window.months
    year, month = divmod(as_of.year * 12 + as_of.month - 1 - months, 12)
    day = min(as_of.day, _days_in(year, month + 1))
    return date(year, month + 1, day) + timedelta(days=1)


def _days_in(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def referenced_attributes(scheme: Scheme) -> set[str]:
    """Every attribute name a condition or an exception's mapping reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("attr", "by") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(scheme_to_dict(scheme))
    found.update(scheme_to_dict(scheme).get("defaults", {}))
    return found


def _extra_keys(attrs: set[str], prefix: str) -> list[str]:
    head = f"{prefix}attributes."
    return sorted(a[len(head) :] for a in attrs if a.startswith(head))


def _expand_json(frame: pl.DataFrame, keys: list[str], prefix: str) -> pl.DataFrame:
    extra = [
        pl.col("attributes").str.json_path_match(f'$["{key}"]').alias(f"{prefix}attributes.{key}")
        for key in keys
    ]
    return frame.with_columns(extra).drop("attributes")


async def _customers(conn: AsyncConnection, window: tuple[date, date]) -> pl.DataFrame:
    columns = ", ".join(f"c.{name}" for name in CUSTOMER_ATTRS)
    sql = (
        f"SELECT c.code AS entity_key, {columns}, c.attributes::text AS attributes "
        "FROM customers c WHERE c.account_type IN ('sold_to','ship_to') "
        "OR EXISTS (SELECT 1 FROM order_lines o WHERE o.customer_code = c.code "
        f"AND o.order_date BETWEEN '{window[0].isoformat()}' AND '{window[1].isoformat()}')"
    )
    schema = {"entity_key": pl.String, **CUSTOMER_ATTRS, "attributes": pl.String}
    frame = await read_frame(conn, sql, {k: pl.String for k in schema})
    return frame.with_columns(pl.col("strategic") == "t")


async def _products(conn: AsyncConnection) -> pl.DataFrame:
    columns = ", ".join(PRODUCT_ATTRS)
    sql = f"SELECT sku AS entity_key, {columns}, attributes::text AS attributes FROM products"
    names = ["entity_key", *PRODUCT_ATTRS, "attributes"]
    return await read_frame(conn, sql, {k: pl.String for k in names})


async def load_entities(
    conn: AsyncConnection, scheme: Scheme, orders: pl.DataFrame, window: tuple[date, date]
) -> pl.DataFrame:
    attrs = referenced_attributes(scheme)
    if scheme.entity == "customer":
        return _expand_json(await _customers(conn, window), _extra_keys(attrs, ""), "")
    if scheme.entity == "product":
        return _expand_json(await _products(conn), _extra_keys(attrs, ""), "")
    customers = _expand_json(
        await _customers(conn, window), _extra_keys(attrs, "customer."), "customer."
    )
    products = _expand_json(await _products(conn), _extra_keys(attrs, "product."), "product.")
    pairs = orders.select("customer_code", "sku").unique()
    return pairs.join(
        customers.rename(
            {c: f"customer.{c}" for c in customers.columns if not c.startswith("customer.")}
        ).rename({"customer.entity_key": "customer_code"}),
        on="customer_code",
        how="left",
    ).join(
        products.rename(
            {c: f"product.{c}" for c in products.columns if not c.startswith("product.")}
        ).rename({"product.entity_key": "sku"}),
        on="sku",
        how="left",
    )


async def first_orders(conn: AsyncConnection, scheme: Scheme, as_of: date) -> pl.DataFrame:
    """Each entity's first order date up to ``as_of`` (for ``variability.since: first_order``):
    the key columns of the scheme's entities and ``first_order``."""
    keys = {"customer": ["customer_code"], "product": ["sku"]}.get(
        scheme.entity, ["customer_code", "sku"]
    )
    columns = ", ".join(keys)
    sql = (
        f"SELECT {columns}, min(order_date)::text AS first_order FROM order_lines "
        f"WHERE order_date <= $1 GROUP BY {columns}"
    )
    frame = await read_frame(
        conn, sql, {**{k: pl.String for k in keys}, FIRST_ORDER: pl.String}, as_of
    )
    frame = frame.with_columns(pl.col(FIRST_ORDER).str.to_date("%Y-%m-%d"))
    if scheme.entity == "customer_product":
        return frame
    return frame.rename({keys[0]: "entity_key"})


async def load_orders(
    conn: AsyncConnection, window: tuple[date, date], money: set[str]
) -> pl.DataFrame:
    """Order lines of the window; ciphertext columns come as hex text when ``money`` needs them."""
    cipher = "".join(f", encode({c}_enc, 'hex') AS {c}_enc" for c in sorted(money))
    sql = (
        "SELECT order_no, line_no, customer_code, sku, order_date, quantity"
        f"{cipher} FROM order_lines WHERE order_date BETWEEN $1 AND $2"
    )
    schema: dict[str, Any] = {
        "order_no": pl.String,
        "line_no": pl.String,
        "customer_code": pl.String,
        "sku": pl.String,
        "order_date": pl.String,
        "quantity": pl.String,
    }
    schema.update({f"{c}_enc": pl.String for c in sorted(money)})
    frame = await read_frame(conn, sql, schema, window[0], window[1])
    return frame.with_columns(
        pl.col("order_date").str.to_date("%Y-%m-%d"),
        pl.col("quantity").cast(pl.Float64),
    )


def decrypt_money(codec: FieldCodec, frame: pl.DataFrame, money: set[str]) -> pl.DataFrame:
    """Replace ``*_enc`` hex columns by float columns (CPU; call in a thread)."""
    if not money or frame.is_empty():
        return (
            frame.with_columns([pl.lit(None, pl.Float64).alias(c) for c in ("revenue", "margin")])
            .drop([f"{c}_enc" for c in money])
            .select(DECRYPTED_COLUMNS)
        )
    keys = (frame["order_no"] + "/" + frame["line_no"]).to_list()
    out: dict[str, pl.Series] = {}
    for column in sorted(money):
        blobs = frame[f"{column}_enc"].str.decode("hex").to_list()
        values = np.empty(len(blobs), dtype=np.float64)
        for start in range(0, len(blobs), DECRYPT_BATCH):
            stop = start + DECRYPT_BATCH
            values[start:stop] = codec.decrypt_floats(
                blobs[start:stop],
                table="order_lines",
                column=column,
                row_keys=keys[start:stop],
            )
        out[column] = pl.Series(column, values).fill_nan(None)
    missing = {"revenue", "margin"} - money
    return (
        frame.drop([f"{c}_enc" for c in money])
        .with_columns(*out.values(), *[pl.lit(None, pl.Float64).alias(c) for c in missing])
        .select(DECRYPTED_COLUMNS)
    )


def date_slices(window: tuple[date, date], parts: int) -> list[tuple[date, date]]:
    """``window`` (inclusive) cut into at most ``parts`` disjoint inclusive date ranges."""
    start, end = window
    days = (end - start).days + 1
    step = max(1, -(-days // parts))
    return [
        (start + timedelta(days=i), min(end, start + timedelta(days=i + step - 1)))
        for i in range(0, days, step)
    ]


async def _load_decrypted(
    conn: AsyncConnection, codec: FieldCodec, window: tuple[date, date], money: set[str]
) -> pl.DataFrame:
    """Order lines of the window with money decrypted, slice by slice: while a worker thread
    decrypts one slice, PostgreSQL already produces the next (the two run on different cores)."""
    slices = date_slices(window, PIPELINE_SLICES)
    frame = await load_orders(conn, slices[0], money)
    done: list[pl.DataFrame] = []
    for next_slice in slices[1:]:
        decrypting = asyncio.ensure_future(asyncio.to_thread(decrypt_money, codec, frame, money))
        try:
            frame = await load_orders(conn, next_slice, money)
        finally:
            done.append(await decrypting)
    done.append(await asyncio.to_thread(decrypt_money, codec, frame, money))
    return pl.concat(done, how="vertical")


async def load_inputs(
    conn: AsyncConnection, codec: FieldCodec, scheme: Scheme, as_of: date
) -> RunInputs:
    window = (window_start(scheme, as_of), as_of)
    money = {c for c in required_order_columns(scheme) if c in ("revenue", "margin")}
    try:
        orders = await _load_decrypted(conn, codec, window, money)
    except Exception as exc:  # the codec raises its integrity error type
        raise UnreadableMoney(
            "stored revenue or margin does not decrypt with the tenant's keys; run "
            "'tierline keys rotate' diagnostics or re-import the affected order lines"
        ) from exc
    entities = await load_entities(conn, scheme, orders, window)
    if scheme.variability.since == "first_order":
        keys = ["customer_code", "sku"] if scheme.entity == "customer_product" else ["entity_key"]
        entities = entities.join(await first_orders(conn, scheme, as_of), on=keys, how="left")
    return RunInputs(orders.drop("line_no"), entities, window[0], window[1], tuple(sorted(money)))
