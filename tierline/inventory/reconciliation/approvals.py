"""ERP change sets in the approval queue (governance's ``APPROVAL_SOURCES``): a submitted
reconciliation waits there; approving it makes its write-back file available."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.service import APPROVAL_SOURCES, ApprovalSource, PendingApproval
from tierline.inventory.reconciliation import service
from tierline.platform.audit.service import ActingParty

KIND = "erp_changes"
APPROVE = "inventory:approve"


async def pending_change_sets(session: AsyncSession, actor: str) -> list[PendingApproval]:
    return [
        PendingApproval(
            id=r.id,
            title=f"ERP change set #{r.id}",
            summary=(
                f"{r.counts.get('changes', 0):,} parameter changes over "
                f"{r.counts.get('rows', 0):,} SKU-locations"
            ),
            link=f"inventory/reconciliation?id={r.id}",
            requested_by=r.submitted_by or r.created_by,
            requested_at=r.submitted_at,
            why_not=("four eyes: you submitted it" if actor and actor == r.submitted_by else None),
        )
        for r in await service.pending(session)
    ]


async def decide_change_set(
    session: AsyncSession, item_id: int, decision: str, actor: ActingParty, reason: str
) -> None:
    await service.decide(session, item_id, decision, actor, reason)


APPROVAL_SOURCES.register(
    ApprovalSource(
        kind=KIND,
        label="ERP change sets",
        permission=APPROVE,
        pending=pending_change_sets,
        decide=decide_change_set,
    )
)
