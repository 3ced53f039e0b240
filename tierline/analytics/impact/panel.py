"""The impact panel governance shows on its approval page (registered by ``analytics.hooks``),
and the computation the impact page and API share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.impact.figures import reclassification_impact
from tierline.analytics.schemas import ImpactReport, impact_report
from tierline.analytics.web import READ, sees_money
from tierline.governance.service import ApprovalPanel, PendingChange
from tierline.platform.encryption import MASKED
from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import allowed_here


async def _codec(request: Request[Any, Any, Any], principal: Principal) -> FieldCodec | None:
    """The tenant's codec, only for readers who may see revenue (nothing decrypted else)."""
    if not sees_money(request, principal):
        return None
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    codec: FieldCodec = await load_codec(
        principal.tenant, kms_from_settings(request.app.state.settings)
    )
    return codec


async def impact_of(
    request: Request[Any, Any, Any],
    principal: Principal,
    session: AsyncSession,
    changes: Sequence[PendingChange],
) -> ImpactReport:
    """The impact of ``changes`` for this reader (revenue masked without ``margin:read``)."""
    codec = await _codec(request, principal)
    impact = await reclassification_impact(session, codec, changes, datetime.now(UTC).date())
    return impact_report(impact, masked=codec is None)


async def impact_panel(
    session: AsyncSession,
    changes: Sequence[PendingChange],
    request: Request[Any, Any, Any],
    principal: Principal,
) -> ApprovalPanel | None:
    """The approval page's panel: the impact of the changes the board is looking at."""
    if not changes or not allowed_here(request, READ):
        return None
    report = await impact_of(request, principal, session, changes)
    return ApprovalPanel(
        "Impact on accounts and sales",
        "analytics/_impact.html",
        {"report": report, "MASKED": MASKED, "base": f"/t/{principal.tenant.slug}/analytics"},
    )
