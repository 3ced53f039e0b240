"""Reading what the impact tables need: the pending changes (held run moves, or the changes
the approval page lists), the customers' managers and regions, their revenue over the last
twelve months (decrypted server-side, only for the customers moving) and the entitlements of
the segments they leave and join."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.cost_to_serve.report import minor_units
from tierline.analytics.impact.report import ImpactTables, impact_tables, service_changes
from tierline.governance.service import PendingChange
from tierline.masterdata.service import customer_frame, revenue_of_customers
from tierline.platform.encryption.codec import FieldCodec
from tierline.segmentation.service import pending_moves, segment_catalogue
from tierline.service_levels.service import segment_entitlements

TRAILING_DAYS = 365
MAX_CHANGES = 5_000


@dataclass(frozen=True)
class ServiceChange:
    scheme_code: str
    from_segment: str | None
    to_segment: str
    accounts: int
    changes: list[str]


@dataclass(frozen=True)
class Impact:
    tables: ImpactTables
    service: list[ServiceChange]
    since: date
    until: date
    unreadable: int


async def pending_run_moves(session: AsyncSession, scheme: str | None) -> list[PendingChange]:
    """Customer moves that runs hold for a decision (oldest first, at most a few thousand)."""
    page = await pending_moves(session, scheme, limit=MAX_CHANGES)
    return [
        PendingChange(f"move:{m.id}", m.customer_code, m.scheme_code, m.from_segment, m.to_segment)
        for m in page.rows
        if m.customer_code is not None
    ]


def _frame(changes: Sequence[PendingChange]) -> pl.DataFrame:
    return pl.DataFrame(
        [(c.ref, c.customer_code, c.scheme_code, c.from_segment, c.to_segment) for c in changes],
        schema={
            "ref": pl.String,
            "customer_code": pl.String,
            "scheme_code": pl.String,
            "from_segment": pl.String,
            "to_segment": pl.String,
        },
        orient="row",
    )


async def _service(session: AsyncSession, frame: pl.DataFrame, day: date) -> list[ServiceChange]:
    pairs = frame.group_by("scheme_code", "from_segment", "to_segment").agg(
        pl.col("customer_code").n_unique().alias("accounts")
    )
    out = []
    for scheme, old, new, accounts in pairs.sort(
        "scheme_code", "from_segment", "to_segment"
    ).iter_rows():
        before = await segment_entitlements(session, scheme, old, day)
        after = await segment_entitlements(session, scheme, new, day)
        out.append(ServiceChange(scheme, old, new, int(accounts), service_changes(before, after)))
    return out


async def reclassification_impact(
    session: AsyncSession, codec: FieldCodec | None, changes: Sequence[PendingChange], day: date
) -> Impact:
    """The impact of ``changes`` as of ``day``; ``codec`` None (a reader who may not see
    money) leaves revenue out without decrypting anything."""
    frame = _frame(changes)
    conn = await session.connection()
    codes = sorted(set(frame["customer_code"].to_list()))
    since = day - timedelta(days=TRAILING_DAYS)
    unreadable = 0
    revenue = pl.DataFrame(schema={"customer_code": pl.String, "revenue": pl.Int64})
    if codec is not None and codes:
        opened = await revenue_of_customers(conn, codec, codes, since, day)
        revenue = opened.frame.select("customer_code", minor_units("revenue").alias("revenue"))
        unreadable = opened.unreadable
    customers = (await customer_frame(conn)).filter(pl.col("customer_code").is_in(codes))
    schemes = sorted(set(frame["scheme_code"].to_list()))
    catalogue = await segment_catalogue(session, schemes)
    ranks = {(scheme, s.code): s.rank for scheme, segs in catalogue.items() for s in segs}
    tables = impact_tables(frame, customers, revenue, ranks)
    return Impact(tables, await _service(session, frame, day), since, day, unreadable)
