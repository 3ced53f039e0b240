"""The data-quality report: can a segmentation run trust the data it is about to use?

Two halves, each in its own module:

- **Feeds** (``feeds``): every feed with its freshness; an expected segmentation input that
  never loaded is listed as ``never``.
- **Findings**: estimated margins and money that fails its integrity check (``money``: revenue
  and margin decrypted in batches inside the server), implausible order lines and missing
  attributes (``checks``: aggregated in SQL). A report carries counts, shares and at most
  ``EXAMPLES`` example keys per finding (codes and order keys, never money); masking the money
  shares for readers without ``margin:read`` is the caller's job.

Row-level scope: with ``scopes`` given, customers and products are limited to those scopes and
order lines to the lines of customers in them (the account owns its order history, as on the
customer page). Feeds are tenant-wide and always listed whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.masterdata.quality.checks import (
    Finding,
    customer_checks,
    line_checks,
    lines_in_scope,
    product_checks,
    run_checks,
)
from tierline.masterdata.quality.feeds import FeedState, feed_status
from tierline.masterdata.quality.money import (
    EstimatedMargins,
    estimated_rows,
    money_findings,
    money_pass,
)
from tierline.masterdata.scopes import Scopes, scope_condition
from tierline.platform.encryption import FieldCodec

_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__


@dataclass(frozen=True)
class QualityReport:
    generated_at: datetime
    feeds: list[FeedState]
    order_lines: int
    estimated: list[EstimatedMargins]
    implausible: list[Finding]
    missing: list[Finding]

    @property
    def stale(self) -> list[FeedState]:
        return [f for f in self.feeds if f.status != "fresh"]

    @property
    def estimated_lines(self) -> int:
        return sum(e.estimated for e in self.estimated)


async def quality_report(
    session: AsyncSession, codec: FieldCodec, now: datetime, scopes: Scopes = None
) -> QualityReport:
    """Feeds and every finding, for the rows ``scopes`` covers (None: the whole tenant)."""
    line_scope = lines_in_scope(scopes)
    tally = await money_pass(session, codec, line_scope)
    line_findings = await run_checks(session, _LINES, "order_lines", line_checks(), line_scope)
    total = line_findings[0].total if line_findings else 0
    missing = await run_checks(
        session,
        _CUSTOMERS,
        "customers",
        customer_checks(),
        scope_condition(_CUSTOMERS, scopes),
    ) + await run_checks(
        session, _PRODUCTS, "products", product_checks(), scope_condition(_PRODUCTS, scopes)
    )
    return QualityReport(
        generated_at=now,
        feeds=await feed_status(session, now),
        order_lines=total,
        estimated=estimated_rows(tally.groups),
        implausible=await money_findings(session, tally, total) + line_findings,
        missing=missing,
    )
