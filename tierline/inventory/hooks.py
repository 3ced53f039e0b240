"""What inventory adds to other domains' work: policy runs waiting for approval appear in
governance's approval queue (listed in this package's plugin, so the hook is always loaded)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.service import PENDING_ELSEWHERE, PendingElsewhere
from tierline.inventory.models import InventoryPolicyRun


@PENDING_ELSEWHERE.register
async def runs_waiting_for_approval(
    session: AsyncSession, slug: str, permissions: frozenset[str]
) -> list[PendingElsewhere]:
    """Policy runs whose changes exceed their threshold, for those who may read them."""
    if "inventory:read" not in permissions:
        return []
    rows = await session.execute(
        select(InventoryPolicyRun)
        .where(InventoryPolicyRun.status == "pending_approval")
        .order_by(InventoryPolicyRun.started_at)
        .limit(50)
    )
    return [
        PendingElsewhere(
            kind="inventory policy run",
            title=f"{run.policy_code} v{run.version} as of {run.as_of.isoformat()}",
            summary=run.message or "waiting for approval",
            url=f"/t/{slug}/inventory/runs/{run.id}",
            requested_by=run.requested_by,
            requested_at=run.started_at,
            decidable="inventory:approve" in permissions,
        )
        for run in rows.scalars()
    ]
