"""Binary COPY payloads load exactly the rows the CSV payload loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.importing import apply as apply_module
from tierline.masterdata.importing import pgbinary
from tierline.masterdata.importing.apply import copy_rows, csv_payload
from tierline.masterdata.importing.pgbinary import HEADER, TRAILER, binary_payload, binary_pieces
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection

TYPES = {
    "pos": "int8",
    "name": "text",
    "code": "varchar",
    "qty": "int4",
    "big": "int8",
    "flag": "bool",
    "day": "date",
    "at": "timestamptz",
    "ratio": "float8",
    "blob": "bytea",
    "digest": "bytea",
    "amount": "numeric:4",
    "price": "numeric:2",
    "whole": "numeric:0",
    "sealed": "bytea",
}
COLUMNS_SQL = {
    "pos": "int8",
    "name": "text",
    "code": "varchar(300000)",
    "qty": "int4",
    "big": "int8",
    "flag": "bool",
    "day": "date",
    "at": "timestamptz",
    "ratio": "float8",
    "blob": "bytea",
    "digest": "bytea",
    "amount": "numeric(18,4)",
    "price": "numeric(12,2)",
    "whole": "numeric(20,0)",
    "sealed": "bytea",
}
TEXTS = ["", "a", "Café €", 'quoted "x", with comma', "line\nbreak", "tab\tand \\ slash", "ü" * 40]


def sample(n: int, seed: int, outlier: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)

    def nulls(values: pl.Series, share: float = 0.2) -> pl.Series:
        return values.scatter(np.flatnonzero(rng.random(n) < share), None)

    amounts = rng.integers(-(10**15), 10**15, n) / 10**4
    amounts[:6] = [0.0, -0.0001, 0.0001, 99_999_999_999.9999, -12_345.5, 1e11]
    names = [TEXTS[i] for i in rng.integers(0, len(TEXTS), n)]
    if outlier:
        names[n // 2] = "long " * 20_000
    return pl.DataFrame(
        {
            "pos": pl.Series(np.arange(n), dtype=pl.Int64),
            "name": nulls(pl.Series(names, dtype=pl.String)),
            "code": pl.Series([f"C{i}" for i in rng.integers(0, 10**6, n)]),
            "qty": nulls(pl.Series(rng.integers(-(2**31), 2**31, n), dtype=pl.Int64)),
            "big": nulls(pl.Series(rng.integers(-(2**62), 2**62, n), dtype=pl.Int64)),
            "flag": nulls(pl.Series(rng.random(n) < 0.5)),
            # Days from 1900 to 2100: both sides of PostgreSQL's 2000-01-01 epoch.
            "day": nulls(pl.Series(rng.integers(-25_567, 47_482, n), dtype=pl.Int32).cast(pl.Date)),
            "at": nulls(
                pl.Series(rng.integers(-(2**61), 2**61, n) // 1000).cast(pl.Datetime("us", "UTC"))
            ),
            "ratio": nulls(pl.Series(rng.normal(0, 1e6, n))),
            "blob": nulls(
                pl.Series([rng.bytes(k) for k in rng.integers(0, 50, n)], dtype=pl.Binary)
            ),
            "digest": nulls(pl.Series([rng.bytes(16) for _ in range(n)], dtype=pl.Binary)),
            "amount": nulls(pl.Series(amounts)),
            "price": nulls(pl.Series(np.round(rng.normal(0, 1e5, n), 2))),
            "whole": nulls(pl.Series(rng.integers(-(10**15), 10**15, n).astype(np.float64))),
            # fixed-size bytes (sealed money) as a byte matrix, trailing zero bytes included
            "sealed": pl.select(
                pl.when(pl.lit(pl.Series(rng.random(n) >= 0.2))).then(
                    pl.lit(pl.Series(rng.integers(0, 4, (n, 20), dtype=np.uint8)))
                )
            ).to_series(),
        }
    )


async def _pieces(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


async def load_binary(
    conn: AsyncConnection, table: str, payload: bytes, columns: list[str]
) -> None:
    raw: Any = (await conn.get_raw_connection()).driver_connection
    await raw.copy_to_table(table, source=_pieces(payload), columns=columns, format="binary")


async def fetch(conn: AsyncConnection, table: str) -> list[tuple[Any, ...]]:
    rows = await conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY pos")
    return [tuple(r) for r in rows]


async def create(conn: AsyncConnection, table: str) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in COLUMNS_SQL.items())
    await conn.exec_driver_sql(f"CREATE TEMP TABLE {table} ({cols}) ON COMMIT DROP")


@pytest.mark.parametrize("small_chunks", [False, True])
async def test_binary_and_csv_payloads_load_the_same_rows(
    runtime: Runtime, tenant: TenantRef, monkeypatch: pytest.MonkeyPatch, small_chunks: bool
) -> None:
    if small_chunks:
        # Many chunks, and a long value that forces the padded matrix to be split.
        monkeypatch.setattr(pgbinary, "_CHUNK_ROWS", 37)
        monkeypatch.setattr(pgbinary, "_PAD_BUDGET", 4096)
        # Pieces cut mid-row as they are sent: the stream is one, however it is cut.
        monkeypatch.setattr(apply_module._pieces, "__defaults__", (1000,))
    frame = sample(400, seed=7, outlier=small_chunks)
    pieces = binary_pieces(frame, TYPES)
    assert b"".join(pieces) == binary_payload(frame, TYPES)
    text, columns = csv_payload(frame)
    assert columns == frame.columns
    async with tenant_connection(tenant, runtime.databases) as conn:
        await create(conn, "via_binary")
        await create(conn, "via_csv")
        # the import's own path: the pieces as they are, through copy_rows
        await copy_rows(conn, pieces, frame.columns, table="via_binary", copy_format="binary")
        await copy_rows(conn, text, columns, table="via_csv")
        binary_rows, csv_rows = await fetch(conn, "via_binary"), await fetch(conn, "via_csv")
    assert len(binary_rows) == frame.height
    assert binary_rows == csv_rows
    by_pos = {r[0]: r for r in binary_rows}
    # Spot checks against the source, so both paths cannot be wrong the same way.
    first = frame.row(0, named=True)
    if first["day"] is not None:
        assert by_pos[0][6] == first["day"]
    assert by_pos[1][11] == (None if frame["amount"][1] is None else Decimal("-0.0001"))
    assert all(isinstance(r[6], dt.date) or r[6] is None for r in binary_rows)
    for pos, sealed in enumerate(frame["sealed"].to_list()):
        assert by_pos[pos][14] == (None if sealed is None else bytes(sealed))


async def test_empty_frame_loads_nothing(runtime: Runtime, tenant: TenantRef) -> None:
    frame = sample(10, seed=1).clear()
    payload = binary_payload(frame, TYPES)
    assert payload == HEADER + TRAILER
    async with tenant_connection(tenant, runtime.databases) as conn:
        await create(conn, "empty_binary")
        await load_binary(conn, "empty_binary", payload, frame.columns)
        assert await fetch(conn, "empty_binary") == []


@pytest.mark.parametrize(
    ("values", "sql_type"),
    [
        ([1.0, 1e15], "numeric:4"),
        ([-1e15], "numeric:4"),
        ([1e18], "numeric:0"),
        ([float("nan")], "numeric:2"),
        ([float("inf")], "numeric:2"),
        ([1.0], "numeric:5"),
    ],
)
def test_numeric_out_of_range_raises(values: list[float], sql_type: str) -> None:
    with pytest.raises(ValueError):
        binary_payload(pl.DataFrame({"x": values}), {"x": sql_type})


def test_int4_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        binary_payload(pl.DataFrame({"x": [1, 2**31]}), {"x": "int4"})


def test_numeric_wire_format() -> None:
    payload = binary_payload(pl.DataFrame({"x": [-12_345.67891]}), {"x": "numeric:4"})
    body = payload[len(HEADER) : -len(TRAILER)]
    field_count, length = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:6], "big")
    words = [int.from_bytes(body[i : i + 2], "big") for i in range(6, 6 + length, 2)]
    # ndigits, weight, sign, dscale, then 0001 2345 . 6789 (rounded): as many integer groups
    # as the largest value needs.
    assert (field_count, length) == (1, 14)
    assert words == [3, 1, 0x4000, 4, 1, 2345, 6789]


@pytest.mark.parametrize(
    ("largest", "groups"),
    [(0, 1), (9_999, 1), (10_000, 2), (99_999_999, 2), (100_000_000, 3), (10**17, 5)],
)
def test_numeric_integer_groups_fit_the_largest_value(largest: int, groups: int) -> None:
    assert pgbinary._integer_groups(largest) == groups
