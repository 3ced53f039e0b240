"""Findings on revenue and margin: they are ciphertext, so they are decrypted inside the server
in keyset batches over ``order_lines.id`` (memory bounded by one batch) and reduced with numpy and
polars; the only per-row Python work is spelling the row keys the codec authenticates against.

The numbers are computed whatever the reader may see (the integrity and plausibility checks
need the plaintext); masking the money shares for readers without ``margin:read`` is the
caller's job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.masterdata.quality.checks import EXAMPLES, Example, Finding, example_of
from tierline.platform.encryption import FieldCodec

BATCH_SIZE = 200_000
# The same tolerance the import applies, so a line the import would accept is not flagged.
MARGIN_TOLERANCE = 1.0001
_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__


@dataclass(frozen=True)
class EstimatedMargins:
    """Order lines of one product line (and currency) whose margin is an estimate."""

    product_line: str | None
    currency: str | None
    lines: int
    estimated: int
    # Share of revenue (absolute values, so a credit note counts by its size) on estimated
    # lines; None when no line carries a readable revenue. Money: mask it for the reader.
    revenue_share: float | None

    @property
    def share(self) -> float | None:
        return self.estimated / self.lines if self.lines else None


@dataclass
class _MoneyTally:
    """What the batches add up to; small whatever the number of lines."""

    groups: list[pl.DataFrame] = field(default_factory=list)
    margin_above: int = 0
    unreadable: int = 0
    margin_above_ids: list[int] = field(default_factory=list)
    unreadable_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _BatchResult:
    groups: pl.DataFrame
    margin_above: int
    unreadable: int
    margin_above_ids: list[int]
    unreadable_ids: list[int]


def _stored(blobs: Sequence[bytes | None]) -> npt.NDArray[np.bool_]:
    return np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))


def _tally_batch(codec: FieldCodec, rows: Sequence[Any]) -> _BatchResult:
    """Decrypt one batch and reduce it (CPU work; runs in a worker thread)."""
    ids, order_nos, line_nos, estimated, product_lines, currencies, revenue_enc, margin_enc = zip(
        *rows, strict=True
    )
    keys = [f"{o}/{n}" for o, n in zip(order_nos, line_nos, strict=True)]
    # "mark": a value that fails to authenticate becomes NaN and is counted, never a crash.
    revenue = codec.decrypt_floats(
        revenue_enc, table="order_lines", column="revenue", row_keys=keys, on_error="mark"
    )
    margin = codec.decrypt_floats(
        margin_enc, table="order_lines", column="margin", row_keys=keys, on_error="mark"
    )
    # NaN although a ciphertext was stored: it did not open for this cell.
    bad = (_stored(revenue_enc) & np.isnan(revenue)) | (_stored(margin_enc) & np.isnan(margin))
    with np.errstate(invalid="ignore"):  # NaN compares False, which is what we want
        above = margin > np.abs(revenue) * MARGIN_TOLERANCE
    id_array = np.fromiter(ids, dtype=np.int64, count=len(ids))
    frame = pl.DataFrame(
        {
            "product_line": pl.Series(product_lines, dtype=pl.String),
            "currency": pl.Series(currencies, dtype=pl.String),
            "estimated": pl.Series(estimated, dtype=pl.Boolean),
            "revenue": pl.Series(np.abs(revenue)).fill_nan(None),
        }
    )
    groups = frame.group_by("product_line", "currency").agg(
        pl.len().alias("lines"),
        pl.col("estimated").sum().alias("estimated"),
        pl.col("revenue").sum().alias("revenue"),
        pl.col("revenue").filter(pl.col("estimated")).sum().alias("estimated_revenue"),
        pl.col("revenue").is_not_null().sum().alias("with_revenue"),
    )
    return _BatchResult(
        groups,
        int(above.sum()),
        int(bad.sum()),
        id_array[above][:EXAMPLES].tolist(),
        id_array[bad][:EXAMPLES].tolist(),
    )


def _add(tally: _MoneyTally, batch: _BatchResult) -> None:
    tally.groups.append(batch.groups)
    tally.margin_above += batch.margin_above
    tally.unreadable += batch.unreadable
    tally.margin_above_ids = (tally.margin_above_ids + batch.margin_above_ids)[:EXAMPLES]
    tally.unreadable_ids = (tally.unreadable_ids + batch.unreadable_ids)[:EXAMPLES]


def _batch_query(after: int, scope: Sequence[ColumnElement[bool]]) -> Select[Any]:
    ol, p = _LINES.c, _PRODUCTS.c
    return (
        select(
            ol.id,
            ol.order_no,
            ol.line_no,
            ol.margin_estimated,
            p.product_line,
            ol.currency,
            ol.revenue_enc,
            ol.margin_enc,
        )
        .select_from(_LINES.outerjoin(_PRODUCTS, p.sku == ol.sku))
        .where(ol.id > after, *scope)
        .order_by(ol.id)
        .limit(BATCH_SIZE)
    )


async def money_pass(
    session: AsyncSession, codec: FieldCodec, scope: Sequence[ColumnElement[bool]]
) -> _MoneyTally:
    """Keyset batches over ``order_lines.id``: memory stays bounded by one batch, and each
    batch is a short index range scan however deep into the table it is."""
    tally, after = _MoneyTally(), 0
    while True:
        rows = list(await session.execute(_batch_query(after, scope)))
        if not rows:
            return tally
        # Hundreds of thousands of AES-GCM opens: off the event loop, so requests keep flowing.
        _add(tally, await asyncio.to_thread(_tally_batch, codec, rows))
        if len(rows) < BATCH_SIZE:
            return tally
        after = int(rows[-1].id)


def estimated_rows(groups: list[pl.DataFrame]) -> list[EstimatedMargins]:
    if not groups:
        return []
    merged = (
        pl.concat(groups)
        .group_by("product_line", "currency")
        .agg(pl.all().sum())
        .sort("product_line", "currency", nulls_last=True)
    )
    return [
        EstimatedMargins(
            r["product_line"],
            r["currency"],
            int(r["lines"]),
            int(r["estimated"]),
            (r["estimated_revenue"] or 0.0) / r["revenue"]
            if r["with_revenue"] and r["revenue"]
            else None,
        )
        for r in merged.iter_rows(named=True)
    ]


async def _examples_by_id(session: AsyncSession, ids: Sequence[int]) -> tuple[Example, ...]:
    if not ids:
        return ()
    c = _LINES.c
    stmt = select(c.order_no, c.line_no, c.customer_code, c.sku).where(c.id.in_(ids))
    rows = list(await session.execute(stmt.order_by(c.id)))
    return tuple(example_of(_LINES, r) for r in rows)


async def money_findings(session: AsyncSession, tally: _MoneyTally, total: int) -> list[Finding]:
    return [
        Finding(
            "unreadable",
            "Revenue or margin fails its integrity check (altered or copied ciphertext)",
            "order_lines",
            tally.unreadable,
            total,
            await _examples_by_id(session, tally.unreadable_ids),
        ),
        Finding(
            "margin_above_revenue",
            "Margin above revenue",
            "order_lines",
            tally.margin_above,
            total,
            await _examples_by_id(session, tally.margin_above_ids),
        ),
    ]
