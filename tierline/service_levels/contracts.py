"""Customer contracts: service levels a customer is owed, and the check that guards them.

A contract names minimum fill rate, OTIF and perfect-order rates (fractions 0..1) and a maximum
lead time for ``[valid_from, valid_to)``; a minimum left empty is not contracted. A customer has
at most one contract in force on any day (validated here, refused by the database too).

:func:`contract_conflicts` is what a reclassification asks before it moves a customer: the
entitlements the target segment promises on that day, compared with the contract. Classification
runs ask it through :func:`hold_moves_below_contract`, the move guard this domain registers with
segmentation (for moves and first assignments alike); governance asks it directly before an
override or a held move is applied. An entitlement change is checked against the contracts
of every customer in the segment by ``entitlements``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
import polars as pl
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import customer_exists
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.segmentation.service import ProposedMoves, scheme_entity
from tierline.service_levels.contract_checks import (
    ContractQuestion,
    entitlement_features,
    other_conflicts,
)
from tierline.service_levels.entitlements import entitlement_at
from tierline.service_levels.levels import (
    LEVELS,
    FieldError,
    has_minimums,
    lock_service_levels,
    shortfalls,
)
from tierline.service_levels.models import Contract

_PLACES = Decimal("0.00001")


class ContractInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new contract as typed: minimums as fractions 0..1, None when not contracted."""

    customer_code: str
    reference: str
    valid_from: date
    valid_to: date | None = None
    fill_rate_min: float | None = None
    otif_min: float | None = None
    perfect_order_min: float | None = None
    max_lead_time_days: int | None = None
    note: str | None = None


class ContractInvalid(DomainError):
    status_code = 422
    title = "Contract refused"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------
# Reading


def _in_force(day: date) -> list[Any]:
    return [
        Contract.valid_from <= day,
        or_(Contract.valid_to.is_(None), Contract.valid_to > day),
    ]


async def active_contract(session: AsyncSession, customer_code: str, day: date) -> Contract | None:
    """The customer's contract in force on ``day``, if any."""
    rows = await session.execute(
        select(Contract).where(Contract.customer_code == customer_code, *_in_force(day))
    )
    return rows.scalars().first()


async def contracted_customers(
    session: AsyncSession, customer_codes: Sequence[str], day: date
) -> set[str]:
    """Which of ``customer_codes`` have a contract in force on ``day`` (one query)."""
    if not customer_codes:
        return set()
    rows = await session.execute(
        select(Contract.customer_code)
        .distinct()
        .where(Contract.customer_code.in_(sorted(set(customer_codes))), *_in_force(day))
    )
    return {str(code) for code in rows.scalars()}


async def list_contracts(session: AsyncSession, limit: int = 500) -> list[Contract]:
    rows = await session.execute(
        select(Contract).order_by(Contract.customer_code, Contract.valid_from.desc()).limit(limit)
    )
    return list(rows.scalars())


def contract_dict(contract: Contract) -> dict[str, Any]:
    def frac(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "id": contract.id,
        "customer_code": contract.customer_code,
        "reference": contract.reference,
        "valid_from": contract.valid_from.isoformat(),
        "valid_to": contract.valid_to.isoformat() if contract.valid_to else None,
        "fill_rate_min": frac(contract.fill_rate_min),
        "otif_min": frac(contract.otif_min),
        "perfect_order_min": frac(contract.perfect_order_min),
        "max_lead_time_days": contract.max_lead_time_days,
        "note": contract.note,
        "created_at": contract.created_at.isoformat() if contract.created_at else None,
        "created_by": contract.created_by,
    }


async def contract_conflicts(
    session: AsyncSession, customer_code: str, scheme_code: str, to_segment: str, day: date
) -> list[str]:
    """Why assigning the customer to ``to_segment`` on ``day`` would break its contract (one
    human-readable line each); empty when it would not, or when no contract is in force."""
    if await scheme_entity(session, scheme_code) != "customer":
        return []
    contract = await active_contract(session, customer_code, day)
    if contract is None:
        return []
    version = await entitlement_at(session, scheme_code, to_segment, day)
    lines: list[str] = []
    if version is None:
        if has_minimums(contract):
            lines.append(
                f"segment {to_segment} has no service entitlements in force on "
                f"{day.isoformat()}, so contract {contract.reference} cannot be honoured"
            )
    else:
        lines += [f"{to_segment}: {line}" for line in shortfalls(contract, version)]
    question = ContractQuestion(
        customer_code, contract.reference, scheme_code, to_segment, day,
        entitlement_features(version),
    )  # fmt: skip
    return lines + await other_conflicts(session, question)


# ---------------------------------------------------------------------------------------------
# Writing


def value_errors(data: ContractInput) -> list[FieldError]:
    errors = []
    if not data.customer_code.strip():
        errors.append(FieldError("customer_code", "name the customer"))
    if not data.reference.strip() or len(data.reference) > 100:
        errors.append(FieldError("reference", "a reference of 1 to 100 characters is required"))
    for minimum, _, _ in LEVELS:
        value = getattr(data, minimum)
        if value is not None and not 0 <= value <= 1:
            errors.append(
                FieldError(minimum, f"must be between 0 and 100 % (got {value * 100:g} %)")
            )
    if data.max_lead_time_days is not None and data.max_lead_time_days < 0:
        errors.append(FieldError("max_lead_time_days", "must be 0 days or more"))
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        errors.append(FieldError("valid_to", "must be after the valid-from date"))
    return errors


async def _database_errors(session: AsyncSession, data: ContractInput) -> list[FieldError]:
    errors = []
    if not await customer_exists(session, data.customer_code):
        errors.append(FieldError("customer_code", f"there is no customer '{data.customer_code}'"))
    taken = await session.scalar(select(Contract.id).where(Contract.reference == data.reference))
    if taken is not None:
        errors.append(FieldError("reference", f"reference '{data.reference}' is already used"))
    overlap: list[Any] = [or_(Contract.valid_to.is_(None), Contract.valid_to > data.valid_from)]
    if data.valid_to is not None:
        overlap.append(Contract.valid_from < data.valid_to)
    clashes = await session.execute(
        select(Contract).where(Contract.customer_code == data.customer_code, *overlap)
    )
    for other in clashes.scalars():
        end = other.valid_to.isoformat() if other.valid_to else "open"
        errors.append(
            FieldError(
                "valid_from",
                f"overlaps contract {other.reference} ({other.valid_from.isoformat()} to {end})",
            )
        )
    return errors


def _fraction(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_PLACES)


async def save_contract(session: AsyncSession, data: ContractInput, actor: ActingParty) -> Contract:
    """Validate and add a contract (audited); ContractInvalid lists every problem."""
    data = msgspec.structs.replace(
        data, customer_code=data.customer_code.strip(), reference=data.reference.strip()
    )
    errors = value_errors(data)
    if errors:
        raise ContractInvalid(errors)
    await lock_service_levels(session)
    errors = await _database_errors(session, data)
    if errors:
        raise ContractInvalid(errors)
    row = Contract(
        customer_code=data.customer_code,
        reference=data.reference,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        fill_rate_min=_fraction(data.fill_rate_min),
        otif_min=_fraction(data.otif_min),
        perfect_order_min=_fraction(data.perfect_order_min),
        max_lead_time_days=data.max_lead_time_days,
        note=(data.note or "").strip() or None,
        created_by=actor.name,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await record_by(
        session,
        actor,
        "contracts.create",
        "contract",
        row.reference,
        after=contract_dict(row),
        reason=row.note,
    )
    return row


# ---------------------------------------------------------------------------------------------
# Guarding classification runs

CONTRACT_HOLD = "contract"  # the reason a held move waits with


async def hold_moves_below_contract(
    session: AsyncSession, proposed: ProposedMoves
) -> dict[str, str]:
    """The run's move guard: moves that would put a customer below its contract wait for
    approval (reason ``contract``) instead of applying, and so does a contracted customer's
    first assignment (a move from no segment) to a segment that cannot honour the contract.
    Contracts are few, so only the contracted customers among them are checked, one by one."""
    if proposed.entity != "customer":
        return {}
    contracted = set(
        (
            await session.execute(
                select(Contract.customer_code).distinct().where(*_in_force(proposed.as_of))
            )
        ).scalars()
    )
    moving = proposed.moves.filter(pl.col("entity_key").is_in(contracted))
    held: dict[str, str] = {}
    for key, segment in moving.select("entity_key", "segment").iter_rows():
        if await contract_conflicts(session, key, proposed.scheme_code, segment, proposed.as_of):
            held[key] = CONTRACT_HOLD
    return held
