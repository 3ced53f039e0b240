"""What governance adds to other domains' work: the customers a classification run moves are
told of their new segment, in the run's transaction (listed in this package's plugin, so it is
registered wherever a run can start)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.notices import notices_for_applied_moves
from tierline.segmentation.service import MOVES_APPLIED, AppliedMoves


@MOVES_APPLIED.register
async def tell_moved_customers(session: AsyncSession, applied: AppliedMoves) -> None:
    """A ``segment_change`` notice per moved customer, keyed by the run (a retried run writes
    each notice once)."""
    await notices_for_applied_moves(
        session, applied.scheme, applied.moves, applied.effective, run_id=applied.run_id
    )
