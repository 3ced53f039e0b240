"""What a policy run reads from the tenant schema, as polars frames through COPY.

Demand is summed per SKU-location, period and ordered unit in PostgreSQL (the history can be
tens of millions of lines; the frames that cross the wire are per period). Segments are read
from the open assignments of the policy's scheme, targets from service levels' service.
Sourcing lanes belong to the network data (migration t0025); a schema without them falls
back to observed lead times only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.document import PolicyDocument
from tierline.inventory.formulas import Flag
from tierline.inventory.statistics import KEY, demand_statistics, lead_time_statistics
from tierline.platform.frames import read_frame
from tierline.segmentation import service as segmentation
from tierline.service_levels import service as service_levels


@dataclass(frozen=True)
class RunInputs:
    """Everything a run computes from; ``statistics`` is what the run archives."""

    statistics: pl.DataFrame
    product_segments: pl.DataFrame
    customer_demand: pl.DataFrame
    segment_rank: dict[str, int]
    targets: dict[str, dict[str, float]]
    entity: str | None


def window(doc: PolicyDocument, as_of: date) -> tuple[date, date, int]:
    """[start, end) of the history and its number of whole periods, ending the day before
    ``as_of``."""
    periods = doc.history_days // doc.period_days
    end = as_of
    return end - timedelta(days=periods * doc.period_days), end, periods


async def _demand(session: AsyncSession, doc: PolicyDocument, as_of: date) -> pl.DataFrame:
    start, end, _ = window(doc, as_of)
    sql = (
        "SELECT sku, location_code, ordered_uom, (order_date - $1::date) / $3::int AS bucket, "
        "sum(quantity)::float8 AS quantity FROM order_lines "
        "WHERE order_date >= $1::date AND order_date < $2::date AND location_code IS NOT NULL "
        "GROUP BY 1, 2, 3, 4"
    )
    schema = {
        "sku": pl.String,
        "location_code": pl.String,
        "ordered_uom": pl.String,
        "bucket": pl.Int32,
        "quantity": pl.Float64,
    }
    conn = await session.connection()
    return await read_frame(conn, sql, schema, start, end, doc.period_days)


async def _unconverted(session: AsyncSession, demand: pl.DataFrame) -> pl.DataFrame:
    """SKU-locations with order lines in a unit that is neither the product's base unit nor
    one it has a conversion for (a conversion deleted after the import, or rows loaded
    around it): their quantities cannot be trusted."""
    conn = await session.connection()
    units = await read_frame(
        conn,
        "SELECT p.sku, p.base_uom AS uom FROM products p "
        "UNION SELECT c.sku, c.uom FROM uom_conversions c",
        {"sku": pl.String, "uom": pl.String},
    )
    used = demand.select(*KEY, pl.col("ordered_uom").alias("uom")).unique()
    return used.join(units, on=["sku", "uom"], how="anti").select(KEY).unique()


async def _lead_times(
    session: AsyncSession, doc: PolicyDocument, as_of: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    start, end, _ = window(doc, as_of)
    conn = await session.connection()
    observations = await read_frame(
        conn,
        "SELECT sku, location_code, supplier_code, lead_time_days::float8 AS lead_time_days "
        "FROM lead_times WHERE received_on >= $1::date AND received_on < $2::date",
        {
            "sku": pl.String,
            "location_code": pl.String,
            "supplier_code": pl.String,
            "lead_time_days": pl.Float64,
        },
        start,
        end,
    )
    lane_schema = {
        "location_code": pl.String,
        "source_code": pl.String,
        "planned_lead_time_days": pl.Float64,
        "calendar": pl.String,
    }
    present = await session.scalar(text("SELECT to_regclass('sourcing_lanes') IS NOT NULL"))
    if not present:
        return observations, pl.DataFrame(schema=lane_schema)
    lanes = await read_frame(
        conn,
        "SELECT location_code, source_code, planned_lead_time_days::float8 AS "
        "planned_lead_time_days, calendar FROM sourcing_lanes",
        lane_schema,
    )
    return observations, lanes


async def _stocked(session: AsyncSession) -> pl.DataFrame:
    """SKU-locations with a stock position (they get a result even without demand)."""
    conn = await session.connection()
    return await read_frame(
        conn,
        "SELECT DISTINCT sku, location_code FROM inventory_positions",
        {"sku": pl.String, "location_code": pl.String},
    )


async def _segments(
    session: AsyncSession, doc: PolicyDocument, entity: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(product segments: sku, segment), (customer segments: customer_code, segment)."""
    conn = await session.connection()
    column = "sku" if entity == "product" else "customer_code"
    frame = await read_frame(
        conn,
        f"SELECT {column} AS code, segment FROM segment_assignments "
        f"WHERE scheme_code = $1 AND valid_to IS NULL AND {column} IS NOT NULL",
        {"code": pl.String, "segment": pl.String},
        doc.scheme,
    )
    empty = pl.DataFrame(schema={"code": pl.String, "segment": pl.String})
    if entity == "product":
        return frame.rename({"code": "sku"}), empty.rename({"code": "customer_code"})
    return empty.rename({"code": "sku"}), frame.rename({"code": "customer_code"})


async def _customer_demand(
    session: AsyncSession, doc: PolicyDocument, as_of: date, customers: pl.DataFrame
) -> pl.DataFrame:
    start, end, _ = window(doc, as_of)
    conn = await session.connection()
    lines = await read_frame(
        conn,
        "SELECT sku, location_code, customer_code, sum(quantity)::float8 AS quantity "
        "FROM order_lines WHERE order_date >= $1::date AND order_date < $2::date "
        "AND location_code IS NOT NULL GROUP BY 1, 2, 3",
        {
            "sku": pl.String,
            "location_code": pl.String,
            "customer_code": pl.String,
            "quantity": pl.Float64,
        },
        start,
        end,
    )
    return (
        lines.join(customers, on="customer_code", how="left")
        .group_by([*KEY, "segment"])
        .agg(pl.col("quantity").sum())
    )


async def load_inputs(session: AsyncSession, doc: PolicyDocument, as_of: date) -> RunInputs:
    """Statistics per SKU-location (demand, lead time, unit flags), segments and targets."""
    _, _, periods = window(doc, as_of)
    demand = await _demand(session, doc, as_of)
    unconverted = await _unconverted(session, demand)
    stats = demand_statistics(demand.select(*KEY, "bucket", "quantity"), periods)
    sku_locations = pl.concat([stats.select(KEY), await _stocked(session)]).unique()
    observations, lanes = await _lead_times(session, doc, as_of)
    lead = lead_time_statistics(
        sku_locations,
        observations,
        lanes,
        min_observations=doc.min_lead_time_observations,
        fallback_cv=doc.fallback_lead_time_cv,
        period_days=doc.period_days,
        default_planned_days=doc.default_lead_time_days,
    )
    conn = await session.connection()
    uoms = await read_frame(
        conn, "SELECT sku, base_uom FROM products", {"sku": pl.String, "base_uom": pl.String}
    )
    statistics = (
        sku_locations.join(stats, on=KEY, how="left")
        .join(lead, on=KEY, how="left")
        .join(uoms, on="sku", how="left")
        .join(unconverted.with_columns(pl.lit(True).alias("_unconverted")), on=KEY, how="left")
        .with_columns(
            pl.lit(periods, pl.Int32).alias("periods"),
            pl.col("zero_periods").fill_null(periods),
            pl.col("demand_mean").fill_null(0.0),
            pl.col("demand_sd").fill_null(0.0),
            pl.col("demand_class").fill_null("none"),
            (
                # without demand there is nothing to protect: a missing lead time is moot
                pl.when(pl.col("demand_mean").fill_null(0.0) == 0)
                .then(pl.col("lead_time_flags") & ~int(Flag.LEAD_TIME_MISSING))
                .otherwise(pl.col("lead_time_flags"))
                | pl.when(pl.col("_unconverted").fill_null(False))
                .then(int(Flag.UNIT_WITHOUT_CONVERSION))
                .otherwise(0)
            ).alias("flags"),
        )
        .select(
            *KEY,
            "base_uom",
            "periods",
            "zero_periods",
            "demand_mean",
            "demand_sd",
            "adi",
            "cv2",
            "demand_class",
            "supplier_code",
            "lead_time_source",
            "lead_time_observations",
            "lead_time_mean",
            "lead_time_sd",
            "flags",
        )
        .sort(KEY)
    )
    entity = await segmentation.scheme_entity(session, doc.scheme)
    product_segments, customers = await _segments(session, doc, entity)
    customer_demand = (
        await _customer_demand(session, doc, as_of, customers)
        if doc.target_rule != "product_segment" and entity == "customer"
        else pl.DataFrame(
            schema={
                "sku": pl.String,
                "location_code": pl.String,
                "segment": pl.String,
                "quantity": pl.Float64,
            }
        )
    )
    catalogue = await segmentation.segment_catalogue(session, [doc.scheme])
    rank = {s.code: i for i, s in enumerate(catalogue.get(doc.scheme, []))}
    targets = await service_levels.targets_in_force(session, doc.scheme, as_of)
    return RunInputs(statistics, product_segments, customer_demand, rank, targets, entity)
