"""Telling account managers that their customers moved segment.

One notification per account manager per run (with e-mail through the outbox), listing every
applied move of that manager's customers: a quarterly rebalancing that moves forty accounts
should not send forty mails. Written in the run's transaction, so a rolled-back run notifies
nobody, and keyed by run so a retried job cannot notify twice.
"""

from __future__ import annotations

import uuid

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.frames import read_frame
from tierline.platform.notifications.service import notify_many
from tierline.segmentation.schemes.document import Scheme

LISTED_MOVES = 40


def _label(scheme: Scheme, code: str | None) -> str:
    names = {s.code: s.name for s in scheme.segments}
    return "none" if code is None else f"{names.get(code, code)} ({code})"


def _body(scheme: Scheme, moves: pl.DataFrame) -> str:
    lines = [
        f"- {row['customer_code']}{' / ' + row['sku'] if row['sku'] else ''}: "
        f"{_label(scheme, row['previous_segment'])} -> {_label(scheme, row['segment'])}"
        for row in moves.head(LISTED_MOVES).iter_rows(named=True)
    ]
    if moves.height > LISTED_MOVES:
        lines.append(f"... and {moves.height - LISTED_MOVES} more (see the run page)")
    return (
        f"The classification run of scheme '{scheme.name}' moved {moves.height} of your "
        "customers to a new service segment:\n" + "\n".join(lines)
    )


async def notify_applied_moves(
    session: AsyncSession,
    tenant_slug: str,
    run_id: uuid.UUID,
    scheme: Scheme,
    applied: pl.DataFrame,
) -> int:
    """``applied``: entity_key, customer_code, sku, previous_segment, segment."""
    if applied.is_empty() or scheme.entity == "product":
        return 0
    managers = await read_frame(
        await session.connection(),
        "SELECT code AS customer_code, lower(account_manager_email) AS manager FROM customers "
        "WHERE account_manager_email IS NOT NULL AND code = ANY($1::text[])",
        {"customer_code": pl.String, "manager": pl.String},
        applied["customer_code"].unique().to_list(),
    )
    routed = applied.join(managers, on="customer_code").sort("customer_code", "sku")
    items = []
    for (manager,), moves in routed.group_by("manager", maintain_order=True):
        count = moves.height
        items.append(
            (
                str(manager),
                f"{count} customer{'s' if count != 1 else ''} moved segment ({scheme.code})",
                _body(scheme, moves),
                f"/t/{tenant_slug}/segments/runs/{run_id}",
                f"segment-run:{run_id}",
            )
        )
    return await notify_many(session, items, kind="segment_move")
