"""Cost-to-serve figures for a window of months: read and decrypt the order lines and cost
records (through master data's service), find each line's segment at its order date (through
segmentation's service), allocate, add up. The whole computation runs server-side; what a
reader may see of it is the caller's business (``analytics.masking``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from tierline.analytics.cost_to_serve.allocation import COST_TYPES, RefusedCost, allocate
from tierline.analytics.cost_to_serve.report import (
    WhaleCurve,
    cts_table,
    minor_units,
    prepare_lines,
    whale_curve,
    with_costs,
)
from tierline.analytics.settings_store import Choices, read_choices
from tierline.masterdata.service import (
    cost_records_with_money,
    customer_frame,
    order_lines_with_money,
    product_weights,
)
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.errors import DomainError
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.service import customer_segment_history

MAX_MONTHS = 36


class WindowRefused(DomainError):
    """A window of months that cannot be reported (the message says why)."""

    status_code = 422
    title = "Analysis refused"


@dataclass(frozen=True)
class Window:
    """Whole months from ``first`` through ``last`` (both month starts)."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date, last: date) -> Window:
        first, last = first.replace(day=1), last.replace(day=1)
        if last < first:
            raise WindowRefused("the window ends before it starts")
        if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
            raise WindowRefused(f"a window spans at most {MAX_MONTHS} months")
        return cls(first, last)

    @property
    def end(self) -> date:
        """The last day of the window."""
        following = (self.last + timedelta(days=32)).replace(day=1)
        return following - timedelta(days=1)

    def overlaps(self, other: Window) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class CostToServe:
    """Everything the cost-to-serve views show, money in cents, unmasked."""

    window: Window
    choices: Choices
    table: pl.DataFrame  # per segment x region x period (report.cts_table)
    by_segment: pl.DataFrame  # per segment over the window
    by_customer: pl.DataFrame  # per customer: segment (latest), region, money
    whale: WhaleCurve
    refused: list[RefusedCost]
    unreadable: int  # stored values that failed their integrity check
    lines: int


def _costs_long(records: pl.DataFrame) -> pl.DataFrame:
    """Cost records (Float64 money) as ``customer_code, period, cost_type, amount`` (cents)."""
    return (
        records.with_columns(minor_units(c) for c in COST_TYPES)
        .unpivot(
            on=list(COST_TYPES),
            index=["customer_code", "period_start"],
            variable_name="cost_type",
            value_name="amount",
        )
        .filter(pl.col("amount").is_not_null())
        .select(
            "customer_code",
            pl.col("period_start").dt.truncate("1mo").alias("period"),
            "cost_type",
            "amount",
        )
    )


def compute(
    window: Window,
    choices: Choices,
    lines: pl.DataFrame,
    records: pl.DataFrame,
    history: pl.DataFrame,
    customers: pl.DataFrame,
    weights: pl.DataFrame,
    unreadable: int = 0,
    scopes: frozenset[str] | None = None,
) -> CostToServe:
    """The figures from frames already read and decrypted (pure; CPU: run in a thread).
    ``scopes`` (None: all) keeps the customers of those business scopes, their lines and
    their cost records; the rest is left out, not refused."""
    known = customers["customer_code"].to_list()
    if scopes is not None:
        outside = customers.filter(~pl.col("scope").is_in(sorted(scopes)))["customer_code"]
        customers = customers.filter(pl.col("scope").is_in(sorted(scopes)))
        lines = lines.filter(~pl.col("customer_code").is_in(outside.implode()))
        records = records.filter(~pl.col("customer_code").is_in(outside.implode()))
    prepared = prepare_lines(lines, history, customers, weights)
    allocation = allocate(
        prepared,
        _costs_long(records),
        choices.drivers,
        known_customers=known,
    )
    costed = with_costs(prepared, allocation.shares)
    per_customer = cts_table(costed, ("customer_code",)).join(
        costed.sort("order_date")
        .group_by("customer_code")
        .agg(pl.col("segment").last(), pl.col("region").last()),
        on="customer_code",
    )
    return CostToServe(
        window=window,
        choices=choices,
        table=cts_table(costed),
        by_segment=cts_table(costed, ("segment",)),
        by_customer=per_customer.join(
            customers.select("customer_code", "name"), on="customer_code", how="left"
        ),
        whale=whale_curve(costed),
        refused=allocation.refused,
        unreadable=unreadable,
        lines=costed.height,
    )


async def cost_to_serve(
    runtime: Runtime, tenant: TenantRef, window: Window, scopes: frozenset[str] | None = None
) -> CostToServe:
    """Cost-to-serve of ``window`` for ``tenant`` under the tenant's choices, for the
    customers of ``scopes`` (None: every scope)."""
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant, runtime.databases) as session:
        choices = await read_choices(session)
        conn = await session.connection()
        lines = await order_lines_with_money(conn, codec, window.first, window.end)
        records = await cost_records_with_money(conn, codec, window.first, window.last)
        history = (
            await customer_segment_history(conn, choices.scheme_code)
            if choices.scheme_code
            else _no_history()
        )
        customers = await customer_frame(conn)
        weights = await product_weights(conn)
    return await asyncio.to_thread(
        compute,
        window,
        choices,
        lines.frame,
        records.frame,
        history,
        customers,
        weights,
        lines.unreadable + records.unreadable,
        scopes,
    )


def _no_history() -> pl.DataFrame:
    stamp = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        schema={
            "customer_code": pl.String,
            "segment": pl.String,
            "valid_from": stamp,
            "valid_to": stamp,
            "source": pl.String,
        }
    )
