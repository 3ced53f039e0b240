"""What entitlements and contracts share: field errors, the writers' lock, and the comparison
of what a segment promises with what a contract requires.

A contract names minimum fill rate, OTIF and perfect-order rates (fractions 0..1) and a maximum
lead time; a minimum left empty is not contracted. :func:`shortfalls` says where a promise
falls short of one. Both the contract check of a move (``contracts``) and the contract check
of a new entitlement version (``entitlements``) ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.service_levels.models import Contract

LEVELS = (
    ("fill_rate_min", "fill_rate_target", "fill rate"),
    ("otif_min", "otif_target", "OTIF"),
    ("perfect_order_min", "perfect_order_target", "perfect-order rate"),
)


@dataclass(frozen=True)
class FieldError:
    """One validation message and the form field it belongs to."""

    field: str
    message: str


class Levels(Protocol):
    """What an entitlement promises, as far as contracts care."""

    @property
    def fill_rate_target(self) -> Decimal: ...
    @property
    def otif_target(self) -> Decimal: ...
    @property
    def perfect_order_target(self) -> Decimal: ...
    @property
    def quoted_lead_time_days(self) -> int: ...


def _pct(value: Decimal | float) -> str:
    return f"{float(value) * 100:g} %"


def shortfalls(contract: Contract, promise: Levels) -> list[str]:
    """Where ``promise`` falls short of ``contract`` (empty: the contract is honoured)."""
    found = []
    for minimum, target, label in LEVELS:
        wanted = getattr(contract, minimum)
        offered = getattr(promise, target)
        if wanted is not None and Decimal(offered) < Decimal(wanted):
            found.append(
                f"contract {contract.reference} requires {label} ≥ {_pct(wanted)}, "
                f"the segment promises {_pct(offered)}"
            )
    limit = contract.max_lead_time_days
    if limit is not None and promise.quoted_lead_time_days > limit:
        found.append(
            f"contract {contract.reference} requires lead time ≤ {limit} days, "
            f"the segment quotes {promise.quoted_lead_time_days} days"
        )
    return found


def has_minimums(contract: Contract) -> bool:
    return any(getattr(contract, m) is not None for m, _, _ in LEVELS) or (
        contract.max_lead_time_days is not None
    )


async def lock_service_levels(session: AsyncSession) -> None:
    """Serialise this tenant's entitlement and contract writers until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :key))"),
        {"key": "/service-levels"},
    )
