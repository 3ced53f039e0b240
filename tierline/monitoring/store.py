"""Keeping the stored KPI counts current: a full computation, or only the periods a batch of
order lines touched, in one transaction per tenant.

Inputs travel with ``COPY … TO STDOUT`` into polars (``platform.frames``): the order lines
(dates, quantities and flags only, never revenue or margin), the scheme's assignment spans.
Master data and segmentation tables are read by name here, in SQL, for the same reason
segmentation's run loader does: two million lines cannot pass through ORM objects. The
entitlements (small) come through service levels' service.

Which lines changed: every import writes ``order_lines.updated_at`` (insert or changed row), so
the lines written since the last computation are those with ``updated_at`` after the newest
one the last computation saw. An import whose transaction began before that and committed after
it wrote older stamps the computation could not see: its hook passes when it began (``since``),
and the update it queues looks back to then. A line that changes its order date leaves its old
period stale until a full computation (an order's date is not expected to change).

Cells add up per customer (a line's segment and an order's facts belong to one customer), so an
update recomputes only the touched customers' cells of the touched periods, and moves the
dashboard's roll-up by the difference: the work follows the size of the batch, not of the
periods. A line moved to another customer leaves the old customer's cells stale until a full
computation (``tierline kpi compute --full``), like a changed order date.

The as-of day matters to the backorder count (a line is backordered once its due day has
passed), so when the day moved since the last computation the periods of the last
``AS_OF_LOOKBACK_DAYS`` are recomputed too. Concurrent computations of one tenant serialise on
a transaction-scoped advisory lock; a retried job recomputes the same periods to the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.monitoring.definitions import DEFAULT, KpiDefinition, as_dict, parse_definition
from tierline.monitoring.engine import (
    CELL_KEYS,
    COUNTS,
    GRAINS,
    LINE_SCHEMA,
    Grain,
    cell_counts,
    cell_counts_by_grain,
    period_start,
)
from tierline.monitoring.incremental import lines_for_periods
from tierline.monitoring.models import KPI_CELLS, KPI_ROLLUPS, KpiDefinitionVersion, KpiState
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.frames import copy_frame, read_frame
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import scheme_infos

AS_OF_LOOKBACK_DAYS = 120
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tierline.monitoring.kpis'))"
_LINE_COLUMNS = (
    "order_no, line_no, customer_code, sku, location_code, order_date, requested_date, "
    "promised_date, delivered_date, quantity, delivered_quantity, damaged, documentation_ok"
)


@dataclass(frozen=True)
class ComputeOutcome:
    full: bool
    periods: int
    lines: int
    cells: int
    seconds: float
    scheme_code: str | None
    definition_version: int
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, for the log


# ---------------------------------------------------------------------------------------------
# Definitions


async def current_definition(session: AsyncSession) -> KpiDefinition:
    """The newest stored definition, or the shipped defaults (version 1)."""
    row = await session.scalar(
        select(KpiDefinitionVersion).order_by(KpiDefinitionVersion.version.desc()).limit(1)
    )
    if row is None:
        return DEFAULT
    return parse_definition({**row.definition, "version": row.version})


async def save_definition(
    session: AsyncSession, raw: dict[str, Any], actor: ActingParty
) -> KpiDefinition:
    """A new version from ``raw`` (refused with every reason when impossible); audited. The
    next computation is a full one under it."""
    before = await current_definition(session)
    raw = {k: v for k, v in raw.items() if k != "version"}
    definition = parse_definition({**raw, "version": before.version + 1})
    session.add(
        KpiDefinitionVersion(
            version=definition.version, definition=as_dict(definition), created_by=actor.name
        )
    )
    await session.flush()
    await record_by(
        session,
        actor,
        "kpi_definition.save",
        "kpi_definition",
        str(definition.version),
        before=as_dict(before),
        after=as_dict(definition),
    )
    return definition


async def kpi_scheme(session: AsyncSession) -> str | None:
    """The customer scheme whose segments KPIs are attributed to: the first published one."""
    schemes = await scheme_infos(session, entity="customer", published_only=True)
    return schemes[0].code if schemes else None


async def state(session: AsyncSession) -> KpiState | None:
    return await session.get(KpiState, 1)


# ---------------------------------------------------------------------------------------------
# Reading inputs


async def read_lines(conn: AsyncConnection, where: str = "TRUE", *args: Any) -> pl.DataFrame:
    sql = f"SELECT {_LINE_COLUMNS} FROM order_lines WHERE {where}"
    raw = await read_frame(conn, sql, {name: pl.String for name in LINE_SCHEMA}, *args)
    dates = ("order_date", "requested_date", "promised_date", "delivered_date")
    return raw.with_columns(
        pl.col("line_no").cast(pl.Int64),
        *[pl.col(c).str.to_date("%Y-%m-%d") for c in dates],
        pl.col("quantity").cast(pl.Float64),
        pl.col("delivered_quantity").cast(pl.Float64),
        pl.col("damaged") == "t",
        pl.col("documentation_ok") == "t",
    )


async def read_assignments(
    conn: AsyncConnection, scheme_code: str | None, customers: list[str] | None = None
) -> pl.DataFrame:
    """The scheme's customer assignment spans as dates (the day an assignment starts counts),
    of every customer or of ``customers`` only."""
    schema = {"customer_code": pl.String, "segment": pl.String, "valid_from": pl.String}
    schema["valid_to"] = pl.String
    if scheme_code is None:
        return pl.DataFrame(
            schema={k: pl.Date if k.startswith("valid") else v for k, v in schema.items()}
        )
    sql = (
        "SELECT customer_code, segment, (valid_from AT TIME ZONE 'UTC')::date AS valid_from, "
        "(valid_to AT TIME ZONE 'UTC')::date AS valid_to FROM segment_assignments "
        "WHERE scheme_code = $1 AND customer_code IS NOT NULL"
    )
    args: list[Any] = [scheme_code]
    if customers is not None:
        sql += " AND customer_code = ANY($2::text[])"
        args.append(customers)
    raw = await read_frame(conn, sql, schema, *args)
    return raw.with_columns(
        pl.col("valid_from").str.to_date("%Y-%m-%d"), pl.col("valid_to").str.to_date("%Y-%m-%d")
    )


async def _touched(
    conn: AsyncConnection, since: datetime
) -> tuple[dict[Grain, list[date]], list[str]]:
    """Per grain the periods, and the customers, of every order with a line written since
    ``since`` (an order's customer is its lines' customer)."""
    found: dict[Grain, list[date]] = {}
    customers: set[str] = set()
    for grain in GRAINS:
        rows = await conn.execute(
            text(
                f"SELECT DISTINCT date_trunc('{grain}', o.order_date)::date, o.customer_code "
                "FROM order_lines o WHERE o.order_no IN "
                "(SELECT order_no FROM order_lines WHERE updated_at > :since)"
            ),
            {"since": since},
        )
        pairs = rows.all()
        found[grain] = sorted({r[0] for r in pairs})
        customers.update(str(r[1]) for r in pairs)
    return found, sorted(customers)


def _recent(periods: dict[Grain, list[date]], as_of: date) -> dict[Grain, list[date]]:
    """Add the periods of the last ``AS_OF_LOOKBACK_DAYS`` (their backorders moved)."""
    start = as_of - timedelta(days=AS_OF_LOOKBACK_DAYS)
    days = pl.date_range(start, as_of, "1d", eager=True).to_frame("d")
    out: dict[Grain, list[date]] = {}
    for grain in GRAINS:
        recent = days.select(period_start(pl.col("d"), grain)).unique().to_series().to_list()
        out[grain] = sorted(set(periods.get(grain, [])) | set(recent))
    return out


# ---------------------------------------------------------------------------------------------
# Computing


async def _write(
    conn: AsyncConnection,
    grain: Grain,
    cells: pl.DataFrame,
    periods: list[date] | None,
    version: int,
    dimensions: tuple[pl.DataFrame, pl.DataFrame],
    lap: Any = None,
) -> int:
    """Replace the grain's cells of ``periods`` (all of them: None) and their roll-ups."""
    table = KPI_CELLS
    if periods is not None:
        await conn.execute(
            delete(table).where(table.c.grain == grain, table.c.period_start.in_(periods))
        )
        await conn.execute(
            delete(KPI_ROLLUPS).where(
                KPI_ROLLUPS.c.grain == grain, KPI_ROLLUPS.c.period_start.in_(periods)
            )
        )
    frame = cells.with_columns(
        pl.lit(grain).alias("grain"), pl.lit(version).alias("definition_version")
    ).select("grain", *CELL_KEYS, "definition_version", *COUNTS)
    written = await copy_frame(conn, "kpi_cells", frame)
    if lap:
        lap("write cells")
    await _roll_up(conn, grain, cells, dimensions)
    if lap:
        lap("roll up")
    return written


async def _replace_customers(
    conn: AsyncConnection,
    grain: Grain,
    cells: pl.DataFrame,
    periods: list[date],
    customers: list[str],
    version: int,
    dimensions: tuple[pl.DataFrame, pl.DataFrame],
    lap: Any = None,
) -> int:
    """Replace the ``customers``' cells of ``periods`` and move the roll-up by the difference
    (new minus old, both rolled up), so the work follows the batch, not the period's size."""
    where = "period_start = ANY($2) AND customer_code = ANY($3)"
    old = await stored_cells(conn, grain, where, periods, customers)
    if lap:
        lap("read old cells")
    await conn.execute(
        delete(KPI_CELLS).where(
            KPI_CELLS.c.grain == grain,
            KPI_CELLS.c.period_start.in_(periods),
            KPI_CELLS.c.customer_code.in_(customers),
        )
    )
    frame = cells.with_columns(
        pl.lit(grain).alias("grain"), pl.lit(version).alias("definition_version")
    ).select("grain", *CELL_KEYS, "definition_version", *COUNTS)
    written = await copy_frame(conn, "kpi_cells", frame)
    if lap:
        lap("write cells")
    delta = roll_up_delta(
        roll_up_cells(old, *dimensions), roll_up_cells(cells.select(old.columns), *dimensions)
    )
    if delta.is_empty():
        return written
    # the periods' roll-up rows (a few thousand) read, moved by the delta, written back
    dims = ["period_start", "segment", "region", "channel", "business_unit", "product_line"]
    schema: dict[str, Any] = {d: pl.String for d in [*dims, "scope"]}
    schema.update({c: pl.Int64 for c in COUNTS})
    current = await read_frame(
        conn,
        f"SELECT {', '.join(schema)} FROM kpi_rollups WHERE grain = $1 AND period_start = ANY($2)",
        schema,
        grain,
        periods,
    )
    current = current.with_columns(pl.col("period_start").str.to_date("%Y-%m-%d"))
    keys = [*dims, "scope"]
    moved = (
        pl.concat([current.select(*keys, *COUNTS), delta.select(*keys, *COUNTS)])
        .group_by(keys)
        .agg(*[pl.col(c).sum() for c in COUNTS])
        .filter(pl.col("lines") > 0)
        .with_columns(pl.lit(grain).alias("grain"))
    )
    await conn.execute(
        delete(KPI_ROLLUPS).where(
            KPI_ROLLUPS.c.grain == grain, KPI_ROLLUPS.c.period_start.in_(periods)
        )
    )
    await copy_frame(conn, "kpi_rollups", moved)
    if lap:
        lap("roll up")
    return written


def roll_up_delta(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """New minus old roll-up rows, by their keys (pure); rows that did not change dropped."""
    keys = [c for c in new.columns if c not in COUNTS]
    both = old.join(new, on=keys, how="full", coalesce=True, suffix="_new")
    delta = both.select(
        *keys,
        *[(pl.col(f"{c}_new").fill_null(0) - pl.col(c).fill_null(0)).alias(c) for c in COUNTS],
    )
    return delta.filter(pl.any_horizontal(pl.col(c) != 0 for c in COUNTS))


async def read_dimensions(conn: AsyncConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The customer dimensions (region, channel, business unit, scope) and the products'
    line, for the roll-up (empty text where master data has none)."""
    customers = await read_frame(
        conn,
        "SELECT code AS customer_code, coalesce(region, '') AS region, "
        "coalesce(channel, '') AS channel, coalesce(business_unit, '') AS business_unit, "
        "coalesce(scope, '*') AS scope FROM customers",
        dict.fromkeys(("customer_code", "region", "channel", "business_unit", "scope"), pl.String),
    )
    products = await read_frame(
        conn,
        "SELECT sku, coalesce(product_line, '') AS product_line FROM products",
        {"sku": pl.String, "product_line": pl.String},
    )
    return customers, products


def roll_up_cells(
    cells: pl.DataFrame, customers: pl.DataFrame, products: pl.DataFrame
) -> pl.DataFrame:
    """Cells summed by period, segment and the customer and product dimensions (pure).
    A customer or product missing from master data rolls up under empty text (scope ``*``)."""
    dims = ["segment", "region", "channel", "business_unit", "product_line", "scope"]
    return (
        cells.join(customers, on="customer_code", how="left")
        .join(products, on="sku", how="left")
        .with_columns(
            *[pl.col(c).fill_null("") for c in ("region", "channel", "business_unit")],
            pl.col("product_line").fill_null(""),
            pl.col("scope").fill_null("*"),
        )
        .group_by("period_start", *dims)
        .agg(*[pl.col(c).sum() for c in COUNTS])
        .select("period_start", *dims, *COUNTS)
    )


async def _roll_up(
    conn: AsyncConnection,
    grain: Grain,
    cells: pl.DataFrame,
    dimensions: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """The dashboard's roll-up of the grain's new cells (their periods were emptied)."""
    rolled = roll_up_cells(cells, *dimensions).with_columns(pl.lit(grain).alias("grain"))
    await copy_frame(conn, "kpi_rollups", rolled.select("grain", *rolled.columns[:-1]))


async def compute(
    runtime: Runtime,
    tenant: TenantRef,
    *,
    full: bool = False,
    since: datetime | None = None,
    as_of: date | None = None,
) -> ComputeOutcome:
    """Bring the stored counts up to date: in full (first time, a new definition or scheme,
    or asked), else only the touched periods. ``since``: lines written after it count as
    changed even if the kept mark is later (an import says when it began)."""
    began = time.perf_counter()
    phases: dict[str, float] = {}
    clock = [began]

    def lap(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(phases.get(name, 0.0) + now - clock[0], 3)
        clock[0] = now

    as_of = as_of or datetime.now(UTC).date()
    async with tenant_session(tenant, runtime.databases) as session:
        conn = await session.connection()
        await conn.exec_driver_sql(_LOCK)
        definition = await current_definition(session)
        scheme = await kpi_scheme(session)
        kept = await state(session)
        mark = await conn.scalar(text("SELECT max(updated_at) FROM order_lines"))
        full = (
            full
            or kept is None
            or kept.lines_seen_until is None
            or kept.definition_version != definition.version
            or kept.scheme_code != scheme
        )
        assignments = await read_assignments(conn, scheme)
        dimensions = await read_dimensions(conn)
        lap("prepare")
        periods: dict[Grain, list[date]] | None = None
        customers: list[str] | None = None
        if full:
            lines = await read_lines(conn)
        else:
            assert kept is not None and kept.lines_seen_until is not None
            changed_since = kept.lines_seen_until
            if since is not None:
                changed_since = min(changed_since, since)
            periods, touched_customers = await _touched(conn, changed_since)
            if kept.as_of != as_of:  # the day moved: whole recent periods, every customer
                periods = _recent(periods, as_of)
                customers = None
            else:  # only the touched customers' cells of the touched periods
                customers = touched_customers
            weeks, months = periods["week"], periods["month"]
            if weeks or months:
                # every line of every order with a line in a touched week or month (a week
                # may straddle two months: both conditions are needed) of the customers
                args: list[Any] = [min([*weeks, *months]), months, weeks]
                who = ""
                if customers is not None:
                    args.append(customers)
                    who = " AND customer_code = ANY($4)"
                lines = await read_lines(
                    conn,
                    "order_no IN (SELECT order_no FROM order_lines WHERE order_date >= $1 AND "
                    "(date_trunc('month', order_date)::date = ANY($2) "
                    f"OR date_trunc('week', order_date)::date = ANY($3)){who})",
                    *args,
                )
            else:
                lines = pl.DataFrame(schema=LINE_SCHEMA)
        cells_written = 0
        lap("read")
        if periods is None:  # full: the lines are judged once for both grains
            # emptied, loaded without its index, which is built once at the end (faster
            # than maintaining it row by row); all in this transaction
            await conn.exec_driver_sql("TRUNCATE kpi_cells, kpi_rollups")
            await conn.exec_driver_sql("DROP INDEX IF EXISTS ix_kpi_cells_period")
            lap("truncate")
            by_grain = cell_counts_by_grain(lines, assignments, definition, GRAINS, as_of)
            lap("engine")
            for grain in GRAINS:
                cells_written += await _write(
                    conn, grain, by_grain[grain], None, definition.version, dimensions, lap
                )
            await conn.exec_driver_sql(
                "CREATE INDEX ix_kpi_cells_period ON kpi_cells (grain, period_start)"
            )
            lap("index")
        else:
            for grain in GRAINS:
                chosen = periods[grain]
                if not chosen:
                    continue
                subset = lines_for_periods(lines, chosen, grain)
                cells = cell_counts(subset, assignments, definition, grain, as_of).filter(
                    pl.col("period_start").is_in(pl.Series(chosen, dtype=pl.Date).implode())
                )
                lap("engine")
                if customers is None:
                    cells_written += await _write(
                        conn, grain, cells, chosen, definition.version, dimensions, lap
                    )
                else:
                    cells_written += await _replace_customers(
                        conn, grain, cells, chosen, customers, definition.version, dimensions, lap
                    )
        seconds = time.perf_counter() - began
        touched = -1 if periods is None else len(periods["week"]) + len(periods["month"])
        await _save_state(session, kept, scheme, definition, mark, as_of, seconds, touched)
    lap("commit")
    return ComputeOutcome(
        periods is None,
        touched,
        lines.height,
        cells_written,
        time.perf_counter() - began,
        scheme,
        definition.version,
        phases,
    )


async def _save_state(
    session: AsyncSession,
    kept: KpiState | None,
    scheme: str | None,
    definition: KpiDefinition,
    mark: datetime | None,
    as_of: date,
    seconds: float,
    periods: int,
) -> None:
    row = kept or KpiState(id=1)
    row.scheme_code = scheme
    row.definition_version = definition.version
    row.lines_seen_until = mark or datetime(1970, 1, 1, tzinfo=UTC)
    row.computed_at = datetime.now(UTC)
    row.as_of = as_of
    row.seconds = seconds
    row.periods = periods
    if kept is None:
        session.add(row)
    await session.flush()


async def stored_cells(
    conn: AsyncConnection, grain: Grain, where: str = "TRUE", *args: Any
) -> pl.DataFrame:
    """Stored counts of one grain (``where`` in SQL over kpi_cells, ``$2…`` for ``args``)."""
    schema: dict[str, Any] = {
        "period_start": pl.String,
        "customer_code": pl.String,
        "sku": pl.String,
        "location_code": pl.String,
        "segment": pl.String,
    }
    schema.update({c: pl.Int64 for c in COUNTS})
    columns = ", ".join(schema)
    sql = f"SELECT {columns} FROM kpi_cells WHERE grain = $1 AND ({where})"
    frame = await read_frame(conn, sql, schema, grain, *args)
    return frame.with_columns(
        pl.col("period_start").str.to_date("%Y-%m-%d"), pl.col("location_code").fill_null("")
    )
