"""Approvals that other domains keep (an inventory policy run waiting for approval...),
shown in the approval queue beside overrides and moves and decided on their own page.

Governance declares the extension point; a domain above it registers a hook that lists its
pending items for the caller (``session, slug, permissions``), so governance imports no such
domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.extensions import ExtensionPoint


@dataclass(frozen=True)
class PendingElsewhere:
    """One item waiting for a decision in another domain: what, why, where to decide it."""

    kind: str  # e.g. "inventory policy run"
    title: str
    summary: str
    url: str
    requested_by: str | None
    requested_at: datetime | None
    decidable: bool  # whether the caller holds the permission to decide it


PendingSource = Callable[[AsyncSession, str, frozenset[str]], Awaitable[list[PendingElsewhere]]]
"""``(session, tenant slug, caller's permissions) -> the items pending in one domain``."""

PENDING_ELSEWHERE: ExtensionPoint[PendingSource] = ExtensionPoint("governance.pending_elsewhere")


async def pending_elsewhere(
    session: AsyncSession, slug: str, permissions: frozenset[str]
) -> list[PendingElsewhere]:
    """Every registered domain's pending items, oldest request first."""
    found: list[PendingElsewhere] = []
    for source in PENDING_ELSEWHERE:
        found.extend(await source(session, slug, permissions))
    return sorted(found, key=lambda p: (p.requested_at is None, p.requested_at or datetime.min))
