"""What other domains may add to the contract check: a contract holds more than service levels
(commercial analytics adds its pricing clauses), and every reclassification and entitlement
change must pass all of it. The check (``contracts.contract_conflicts`` for moves,
``entitlements`` for a new version) asks each hook registered here and shows its lines next
to its own; a hook answers in the customer's and the contract's terms, never raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.extensions import ExtensionPoint

# The entitlement features a price term may be attached to, and how a promise shows each.
FEATURES = ("delivery_window", "transport_rules", "allocation_share")


def entitlement_features(promise: Any) -> frozenset[str]:
    """The features an entitlement version (or a new one as typed) promises."""
    if promise is None:
        return frozenset()
    found = set()
    if getattr(promise, "delivery_windows", None):
        found.add("delivery_window")
    if getattr(promise, "transport_rules", None):
        found.add("transport_rules")
    if (getattr(promise, "allocation_min_share", 0) or 0) > 0:
        found.add("allocation_share")
    return frozenset(found)


@dataclass(frozen=True)
class ContractQuestion:
    """Would ``customer_code``, under its contract ``contract_reference``, still be served
    within it in ``to_segment`` of ``scheme_code`` on ``day``, promised ``features``?"""

    customer_code: str
    contract_reference: str
    scheme_code: str
    to_segment: str
    day: date
    features: frozenset[str]


ContractCheck = Callable[[AsyncSession, ContractQuestion], Awaitable[list[str]]]
"""``(session, question) -> lines``: why the answer is no (empty: it is yes)."""

CONTRACT_CHECKS: ExtensionPoint[ContractCheck] = ExtensionPoint("service_levels.contract_checks")


async def other_conflicts(session: AsyncSession, question: ContractQuestion) -> list[str]:
    """The lines of every registered check, in registration order."""
    lines: list[str] = []
    for check in CONTRACT_CHECKS:
        lines += await check(session, question)
    return lines
