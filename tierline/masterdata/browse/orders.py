"""Twelve months of order lines for a customer or a product: lines, quantity, on-time share,
demand per month, and revenue and margin per currency, decrypted and summed server-side only
for readers who may see them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import OrderLine
from tierline.platform.encryption import FieldCodec

_LINES = OrderLine.__table__


@dataclass(frozen=True)
class Money:
    """Revenue and margin of the window's lines in one currency; None when masked (or when no
    line carries a value). ``unreadable`` counts stored values that failed to authenticate and
    were left out of the sums."""

    currency: str | None
    lines: int
    revenue: float | None = None
    margin: float | None = None
    unreadable: int = 0

    @property
    def margin_share(self) -> float | None:
        if self.revenue is None or self.margin is None or self.revenue == 0:
            return None
        return self.margin / self.revenue


@dataclass(frozen=True)
class MonthDemand:
    month: date  # first day of the month
    lines: int
    quantity: float


@dataclass(frozen=True)
class OrderSummary:
    """Order lines from ``start`` through ``end`` (both inclusive)."""

    start: date
    end: date
    lines: int
    quantity: float
    on_time: int  # delivered on or before the promised (else requested) date
    on_time_measured: int  # delivered lines that had such a date
    customers: int
    masked: bool
    money: list[Money]
    months: list[MonthDemand] = field(default_factory=list)

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.on_time_measured if self.on_time_measured else None

    @property
    def variability(self) -> float | None:
        """Coefficient of variation of monthly quantity over the complete months (the current
        month is still running, so it is left out); None without demand."""
        complete = np.array([m.quantity for m in self.months[:-1]], dtype=np.float64)
        if complete.size < 2 or complete.mean() <= 0:
            return None
        return float(complete.std() / complete.mean())


def twelve_months(today: date) -> tuple[date, date]:
    """Twelve calendar months ending with the current one (to date): the first day of the
    month eleven months back, and ``today``."""
    index = today.year * 12 + today.month - 1 - 11
    return date(index // 12, index % 12 + 1, 1), today


def _month_starts(start: date, end: date) -> list[date]:
    first = start.year * 12 + start.month - 1
    last = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def summarise_money(
    rows: Sequence[tuple[str, int, str | None, bytes | None, bytes | None]], codec: FieldCodec
) -> list[Money]:
    """Revenue and margin per currency from ``(order_no, line_no, currency, revenue_enc,
    margin_enc)`` rows: decrypted in two batches, summed with numpy."""
    if not rows:
        return []
    order_nos, line_nos, currencies, revenue_enc, margin_enc = zip(*rows, strict=True)
    keys = [f"{o}/{n}" for o, n in zip(order_nos, line_nos, strict=True)]
    # "mark": a value that fails to authenticate becomes NaN and is counted below, so one bad
    # cell does not take the whole page down.
    revenue = codec.decrypt_floats(
        revenue_enc, table="order_lines", column="revenue", row_keys=keys, on_error="mark"
    )
    margin = codec.decrypt_floats(
        margin_enc, table="order_lines", column="margin", row_keys=keys, on_error="mark"
    )
    # "" stands for "no currency given" so numpy can group the column.
    labels, group = np.unique(np.array([c or "" for c in currencies]), return_inverse=True)
    lines = np.bincount(group, minlength=len(labels))
    revenue_sum, revenue_seen, revenue_bad = _per_currency(group, len(labels), revenue, revenue_enc)
    margin_sum, margin_seen, margin_bad = _per_currency(group, len(labels), margin, margin_enc)
    return [
        Money(
            currency=str(label) or None,
            lines=int(lines[i]),
            revenue=float(revenue_sum[i]) if revenue_seen[i] else None,
            margin=float(margin_sum[i]) if margin_seen[i] else None,
            unreadable=int(revenue_bad[i] + margin_bad[i]),
        )
        for i, label in enumerate(labels)
    ]


def _per_currency(
    group: npt.NDArray[np.intp],
    size: int,
    values: npt.NDArray[np.float64],
    blobs: Sequence[bytes | None],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Per group: the sum of the values, how many there were, and how many stored values
    failed to open (NaN although a ciphertext was stored)."""
    present = ~np.isnan(values)
    stored = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
    return (
        np.bincount(group, weights=np.where(present, values, 0.0), minlength=size),
        np.bincount(group, weights=present, minlength=size),
        np.bincount(group, weights=stored & ~present, minlength=size),
    )


async def _money(
    session: AsyncSession, where: list[ColumnElement[bool]], codec: FieldCodec | None
) -> list[Money]:
    ol = _LINES.c
    if codec is None:
        # Masked: the values are not even decrypted; line counts per currency still show.
        stmt = select(ol.currency, func.count()).where(*where).group_by(ol.currency)
        counted = await session.execute(stmt.order_by(ol.currency))
        return [Money(currency, int(lines)) for currency, lines in counted]
    stmt = select(ol.order_no, ol.line_no, ol.currency, ol.revenue_enc, ol.margin_enc)
    rows = [tuple(r) for r in await session.execute(stmt.where(*where))]
    # Thousands of AES-GCM opens: off the event loop, so other requests keep flowing.
    return await asyncio.to_thread(summarise_money, rows, codec)  # type: ignore[arg-type]


async def _months(
    session: AsyncSession, where: list[ColumnElement[bool]], start: date, end: date
) -> list[MonthDemand]:
    ol = _LINES.c
    month = func.date_trunc("month", ol.order_date)
    stmt = (
        select(month, func.count(), func.coalesce(func.sum(ol.quantity), 0))
        .where(*where)
        .group_by(month)
    )
    found = {m.date(): (int(n), float(q)) for m, n, q in await session.execute(stmt)}
    return [MonthDemand(m, *found.get(m, (0, 0.0))) for m in _month_starts(start, end)]


async def order_summary(
    session: AsyncSession,
    where: list[ColumnElement[bool]],
    window: tuple[date, date],
    codec: FieldCodec | None,
    *,
    monthly: bool = False,
) -> OrderSummary:
    """Totals of the order lines matching ``where`` inside ``window``; revenue and margin
    decrypted and summed here when ``codec`` is given, else masked."""
    ol = _LINES.c
    start, end = window
    where = [*where, ol.order_date >= start, ol.order_date <= end]
    due = func.coalesce(ol.promised_date, ol.requested_date)
    measured = and_(ol.delivered_date.is_not(None), due.is_not(None))
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(ol.quantity), 0),
                func.count().filter(and_(measured, ol.delivered_date <= due)),
                func.count().filter(measured),
                func.count(func.distinct(ol.customer_code)),
            ).where(*where)
        )
    ).one()
    return OrderSummary(
        start=start,
        end=end,
        lines=int(totals[0]),
        quantity=float(totals[1]),
        on_time=int(totals[2]),
        on_time_measured=int(totals[3]),
        customers=int(totals[4]),
        masked=codec is None,
        money=await _money(session, where, codec) if totals[0] else [],
        months=await _months(session, where, start, end) if monthly else [],
    )
