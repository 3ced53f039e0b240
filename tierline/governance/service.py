"""Governance's face to the other domains: what a customer was told, customer-safe.
Other domains import this module, never governance's models or other modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.notices import notices_for, reworded_body
from tierline.governance.panels import (
    APPROVAL_PANELS,
    ApprovalPanel,
    ApprovalPanelHook,
    PendingChange,
)
from tierline.platform.audit.service import ActingParty
from tierline.platform.extensions import ExtensionPoint
from tierline.service_levels.service import customer_facing, customer_safe

__all__ = [
    "APPROVAL_PANELS",
    "APPROVAL_SOURCES",
    "ApprovalPanel",
    "ApprovalPanelHook",
    "ApprovalSource",
    "CustomerNotice",
    "PendingApproval",
    "PendingChange",
    "customer_notices",
]


@dataclass(frozen=True)
class PendingApproval:
    """Something another domain holds back until the approval queue decides it."""

    id: int
    title: str  # what it is ("ERP change set #12")
    summary: str  # what deciding it changes, in a line
    link: str | None  # its page, relative to the tenant's pages ("inventory/...")
    requested_by: str
    requested_at: datetime | None
    why_not: str | None = None  # why this caller may not decide it (e.g. four eyes)


@dataclass(frozen=True)
class ApprovalSource:
    """A kind of item other domains put into the approval queue (registered from the domain
    above governance, like the hooks of ``extensions``): ``pending(session, actor)`` lists
    the waiting items, ``decide(session, id, "approve" | "reject", actor, reason)`` decides
    one (raising a ``DomainError`` to refuse). Deciding needs ``permission``, tenant-wide."""

    kind: str  # [a-z_]{2,20}, the prefix of its queue references ("erp_changes:12")
    label: str
    permission: str
    pending: Callable[[AsyncSession, str], Awaitable[list[PendingApproval]]]
    decide: Callable[[AsyncSession, int, str, ActingParty, str], Awaitable[None]]


APPROVAL_SOURCES: ExtensionPoint[ApprovalSource] = ExtensionPoint("governance.approval_sources")


@dataclass(frozen=True)
class CustomerNotice:
    """A segment or entitlement change as the customer was told it, its list of changes worded
    as today (``notices.reworded_body``); the entitlements are the customer-facing values by
    key (service levels' ``customer_entitlements`` words them), or None."""

    id: int
    customer_code: str
    kind: str
    title: str
    body: str
    effective_date: date
    old_segment: str | None
    new_segment: str | None
    old_entitlements: dict[str, Any] | None
    new_entitlements: dict[str, Any] | None
    created_at: datetime | None


async def customer_notices(
    session: AsyncSession, customer_code: str, limit: int = 50, before_id: int | None = None
) -> list[CustomerNotice]:
    """A customer's notices, newest first; page on with ``before_id`` (the last id seen)."""
    return [
        CustomerNotice(
            id=n.id,
            customer_code=n.customer_code,
            kind=n.kind,
            title=n.title,
            body=reworded_body(n.body, n.old_entitlements, n.new_entitlements),
            effective_date=n.effective_date,
            old_segment=n.old_segment,
            new_segment=n.new_segment,
            old_entitlements=customer_facing(customer_safe(n.old_entitlements)),
            new_entitlements=customer_facing(customer_safe(n.new_entitlements)),
            created_at=n.created_at,
        )
        for n in await notices_for(session, customer_code, limit, before_id)
    ]
