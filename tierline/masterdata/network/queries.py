"""The network and supply data as polars frames, read with COPY: what inventory policy,
reconciliation and simulation read (through ``masterdata.service``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl
from polars._typing import PolarsDataType
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.platform.frames import read_frame

LANE_COLUMNS = {
    "location_code": pl.String,
    "source_code": pl.String,
    "source_kind": pl.String,
    "planned_lead_time_days": pl.Float64,
    "calendar": pl.String,
}
ERP_COLUMNS = {
    "sku": pl.String,
    "location_code": pl.String,
    "mrp_type": pl.String,
    "reorder_point": pl.Float64,
    "safety_stock": pl.Float64,
    "planned_delivery_days": pl.Float64,
    "goods_receipt_days": pl.Float64,
    "days_basis": pl.String,
    "min_lot": pl.Float64,
    "lot_rounding": pl.Float64,
    "max_stock": pl.Float64,
    "uom": pl.String,
}
UNIT_COLUMNS = {"sku": pl.String, "base_uom": pl.String, "uom": pl.String, "factor": pl.Float64}


def _floats(columns: Mapping[str, PolarsDataType]) -> str:
    return ", ".join(f"{c}::float8 AS {c}" if t == pl.Float64 else c for c, t in columns.items())


async def sourcing_lanes(conn: AsyncConnection) -> pl.DataFrame:
    sql = f"SELECT {_floats(LANE_COLUMNS)} FROM sourcing_lanes ORDER BY location_code, source_code"
    return await read_frame(conn, sql, LANE_COLUMNS)


async def erp_parameters(conn: AsyncConnection) -> pl.DataFrame:
    """The ERP's current parameters; quantities in base units, ``uom`` the ERP's unit."""
    sql = f"SELECT {_floats(ERP_COLUMNS)} FROM erp_parameters"
    return await read_frame(conn, sql, ERP_COLUMNS)


async def unit_factors(conn: AsyncConnection) -> pl.DataFrame:
    """Every unit each product is known in, with its base units per unit (the base unit at
    1): ``sku, base_uom, uom, factor``."""
    sql = (
        "SELECT sku, base_uom, base_uom AS uom, 1::float8 AS factor FROM products "
        "UNION ALL SELECT p.sku, p.base_uom, c.uom, (c.factor / c.denominator)::float8 "
        "FROM uom_conversions c JOIN products p USING (sku) WHERE c.uom <> p.base_uom"
    )
    return await read_frame(conn, sql, UNIT_COLUMNS)


DAILY_COLUMNS = {
    "sku": pl.String,
    "location_code": pl.String,
    "day": pl.Date,
    "quantity": pl.Float64,
}
OBSERVATION_COLUMNS = {
    "sku": pl.String,
    "location_code": pl.String,
    "supplier_code": pl.String,
    "lead_time_days": pl.Float64,
}


async def daily_demand(conn: AsyncConnection, start: date, end: date) -> pl.DataFrame:
    """Demand per SKU-location and day in base units, ``start``..``end`` inclusive (lines
    without a location are not a location's demand and are left out)."""
    sql = (
        "SELECT sku, location_code, order_date AS day, sum(quantity)::float8 AS quantity "
        "FROM order_lines WHERE order_date BETWEEN $1 AND $2 AND location_code IS NOT NULL "
        "GROUP BY sku, location_code, order_date"
    )
    return await read_frame(conn, sql, DAILY_COLUMNS, start, end)


async def lead_time_observations(conn: AsyncConnection, since: date) -> pl.DataFrame:
    """Receipts since ``since``: the supplier (null for a transfer) and the days taken."""
    sql = (
        "SELECT sku, location_code, supplier_code, lead_time_days::float8 AS lead_time_days "
        "FROM lead_times WHERE received_on >= $1"
    )
    return await read_frame(conn, sql, OBSERVATION_COLUMNS, since)
