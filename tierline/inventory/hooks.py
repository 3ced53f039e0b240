"""Policy runs waiting for approval, in governance's approval queue (``APPROVAL_SOURCES``):
a run whose changes exceed its threshold is decided there, or on its own page (listed in this
package's plugin, so the source is always registered)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.service import APPROVAL_SOURCES, ApprovalSource, PendingApproval
from tierline.inventory.models import InventoryPolicyRun
from tierline.inventory.runs import RunNotFound, decide_run
from tierline.platform.audit.service import ActingParty

KIND = "inventory_runs"
APPROVE = "inventory:approve"


async def pending_runs(session: AsyncSession, actor: str) -> list[PendingApproval]:
    """Runs waiting for approval, oldest first."""
    rows = await session.execute(
        select(InventoryPolicyRun)
        .where(InventoryPolicyRun.status == "pending_approval")
        .order_by(InventoryPolicyRun.number)
        .limit(200)
    )
    return [
        PendingApproval(
            id=run.number,
            title=f"Policy run #{run.number}: {run.policy_code} v{run.version}, "
            f"as of {run.as_of.isoformat()}",
            summary=run.message or "changes beyond the policy's threshold",
            link=f"inventory/runs/{run.id}",
            requested_by=run.requested_by or "",
            requested_at=run.finished_at,
        )
        for run in rows.scalars()
    ]


async def decide_pending_run(
    session: AsyncSession, number: int, decision: str, actor: ActingParty, reason: str
) -> None:
    found = await session.scalar(
        select(InventoryPolicyRun.id).where(InventoryPolicyRun.number == number)
    )
    if found is None:
        raise RunNotFound(f"no policy run #{number}")
    await decide_run(session, found, decision == "approve", actor, reason)


APPROVAL_SOURCES.register(
    ApprovalSource(
        kind=KIND,
        label="Inventory policy runs",
        permission=APPROVE,
        pending=pending_runs,
        decide=decide_pending_run,
    )
)
