"""What other domains may show the governance board on the approval page, next to the queue:
a panel per registered hook, computed from the pending changes the page lists (commercial
analytics shows the accounts, revenue and service changes per account manager and region).
A hook answers None when it has nothing to show; governance never knows what is inside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.extensions import ExtensionPoint
from tierline.platform.identity.principal import Principal


@dataclass(frozen=True)
class PendingChange:
    """A customer's segment change waiting for a decision (an override or a held move)."""

    ref: str
    customer_code: str
    scheme_code: str
    from_segment: str | None
    to_segment: str


@dataclass(frozen=True)
class ApprovalPanel:
    """A section of the approval page: its heading, the template that draws it (from the
    hook's own package) and what that template is given as ``panel.context``."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


ApprovalPanelHook = Callable[
    [AsyncSession, Sequence[PendingChange], Request[Any, Any, Any], Principal],
    Awaitable[ApprovalPanel | None],
]

APPROVAL_PANELS: ExtensionPoint[ApprovalPanelHook] = ExtensionPoint("governance.approval_panels")


async def approval_panels(
    session: AsyncSession,
    changes: Sequence[PendingChange],
    request: Request[Any, Any, Any],
    principal: Principal,
) -> list[ApprovalPanel]:
    panels = []
    for hook in APPROVAL_PANELS:
        panel = await hook(session, changes, request, principal)
        if panel is not None:
            panels.append(panel)
    return panels
