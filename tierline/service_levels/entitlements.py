"""Service entitlements per segment: versioned promises with effective dates.

A version promises a segment fill rate, OTIF, perfect-order and cycle-service-level targets,
a quoted lead time, delivery windows, allocation and picking priority, transport rules and the
harmonized taxonomy code, from ``effective_from`` until (excluding) ``effective_to``.

Saving a version checks, all in one transaction and writing nothing when anything fails:

- single values: targets 0 to 100 %, lead time ≥ 0, priorities ≥ 1, windows well-formed, a
  period that ends after it starts;
- no overlap with the segment's other versions (the database refuses one too);
- tier order: on any day both are in force, a better-ranked segment (lower rank number) may not
  promise less than a worse-ranked one (lower targets, longer lead time, a later allocation
  priority) unless the better tier's version sets ``allow_below_lower_tier``;
- contracts: no customer currently assigned to the segment may fall below the active contract.

Writers of one tenant's entitlements and contracts are serialised by a transaction-scoped
advisory lock, so two concurrent saves cannot each pass validation against the other's absence.

Reading: the version of a segment in force on a day, and what a customer is promised
(:func:`entitlements_for_customer`: per customer scheme its open segment and the customer-facing
entitlements in force) in one statement joined to segmentation's open assignments.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Date, Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.segmentation.service import (
    customers_in_segment,
    open_customer_assignments,
    published_segments,
    scheme_entity,
)
from tierline.service_levels.contract_checks import (
    ContractQuestion,
    entitlement_features,
    other_conflicts,
)
from tierline.service_levels.customer_safe import PublicEntitlement, SchemeEntitlement
from tierline.service_levels.levels import FieldError, lock_service_levels, shortfalls
from tierline.service_levels.models import Contract, EntitlementVersion

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TARGETS = ("fill_rate_target", "otif_target", "perfect_order_target", "cycle_service_level")
TARGET_LABELS = {
    "fill_rate_target": "fill rate target",
    "otif_target": "OTIF target",
    "perfect_order_target": "perfect-order target",
    "cycle_service_level": "cycle service level",
    "quoted_lead_time_days": "quoted lead time",
    "allocation_priority": "allocation priority",
}
CONTRACT_CUSTOMERS_SHOWN = 10
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
_PLACES = Decimal("0.00001")


class DeliveryWindow(msgspec.Struct, forbid_unknown_fields=True):
    """Days of the week (``mon`` … ``sun``) and a time span ``from`` < ``to`` (``HH:MM``)."""

    days: list[str]
    from_: str = msgspec.field(name="from")
    to: str


class EntitlementInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new entitlement version as typed: fractions 0..1 (pages convert from percent)."""

    effective_from: date
    effective_to: date | None = None
    fill_rate_target: float
    otif_target: float
    perfect_order_target: float
    cycle_service_level: float
    quoted_lead_time_days: int
    delivery_windows: list[DeliveryWindow] = msgspec.field(default_factory=list)
    allocation_priority: int
    allocation_min_share: float = 0.0
    picking_priority: int
    transport_rules: str | None = None
    taxonomy_code: str | None = None
    allow_below_lower_tier: bool = False
    note: str | None = None
    close_open_version: bool = False  # end the segment's open-ended earlier version here


class EntitlementInvalid(DomainError):
    """Validation refused a version; ``errors`` names each field and what is wrong."""

    status_code = 422
    title = "Entitlement refused"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------
# Single-value checks (pure)


def _window_errors(index: int, window: DeliveryWindow) -> list[FieldError]:
    field = f"delivery_windows[{index}]"
    errors = []
    unknown = [d for d in window.days if d not in WEEKDAYS]
    if not window.days or unknown:
        errors.append(FieldError(field, f"days must be some of {', '.join(WEEKDAYS)}"))
    if not (_HHMM.match(window.from_) and _HHMM.match(window.to)):
        errors.append(FieldError(field, "times are written HH:MM (00:00 to 24:00)"))
    elif window.from_ >= window.to:
        errors.append(FieldError(field, f"'from' {window.from_} must be before 'to' {window.to}"))
    return errors


def value_errors(data: EntitlementInput) -> list[FieldError]:
    """Problems each field has on its own (ranges, windows, the period)."""
    errors = []
    for name in (*TARGETS, "allocation_min_share"):
        value = getattr(data, name)
        if not 0 <= value <= 1:
            errors.append(FieldError(name, f"must be between 0 and 100 % (got {value * 100:g} %)"))
    if data.quoted_lead_time_days < 0:
        errors.append(FieldError("quoted_lead_time_days", "must be 0 days or more"))
    for name in ("allocation_priority", "picking_priority"):
        if getattr(data, name) < 1:
            errors.append(FieldError(name, "must be 1 or more (1 is served first)"))
    if data.effective_to is not None and data.effective_to <= data.effective_from:
        errors.append(FieldError("effective_to", "must be after the effective-from date"))
    for index, window in enumerate(data.delivery_windows):
        errors.extend(_window_errors(index, window))
    if data.taxonomy_code is not None and len(data.taxonomy_code) > 40:
        errors.append(FieldError("taxonomy_code", "at most 40 characters"))
    return errors


def _fraction(value: float) -> Decimal:
    return Decimal(str(value)).quantize(_PLACES)


def _pct(value: Decimal) -> float:
    return round(float(value) * 100, 3)


def _period(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'open'}"


# ---------------------------------------------------------------------------------------------
# Tier order (pure)


@dataclass(frozen=True)
class Promise:
    """The comparable part of a version, whoever it belongs to."""

    segment: str
    rank: int
    fill_rate_target: Decimal
    otif_target: Decimal
    perfect_order_target: Decimal
    cycle_service_level: Decimal
    quoted_lead_time_days: int
    allocation_priority: int
    allow_below_lower_tier: bool


def promise_of(row: EntitlementVersion | EntitlementInput, segment: str, rank: int) -> Promise:
    def dec(value: Any) -> Decimal:
        return value if isinstance(value, Decimal) else _fraction(value)

    return Promise(
        segment,
        rank,
        dec(row.fill_rate_target),
        dec(row.otif_target),
        dec(row.perfect_order_target),
        dec(row.cycle_service_level),
        row.quoted_lead_time_days,
        row.allocation_priority,
        row.allow_below_lower_tier,
    )


def promises_less(better: Promise, worse: Promise) -> list[str]:
    """Fields on which the better-ranked ``better`` promises less than ``worse``."""
    found = [name for name in TARGETS if getattr(better, name) < getattr(worse, name)]
    if better.quoted_lead_time_days > worse.quoted_lead_time_days:
        found.append("quoted_lead_time_days")
    if better.allocation_priority > worse.allocation_priority:
        found.append("allocation_priority")
    return found


def order_errors(new: Promise, others: list[Promise]) -> list[FieldError]:
    """Tier-order conflicts of ``new`` with the other segments' overlapping versions."""
    errors = []
    for other in others:
        if other.rank == new.rank:
            continue
        better, worse = (new, other) if new.rank < other.rank else (other, new)
        if better.allow_below_lower_tier:
            continue
        for name in promises_less(better, worse):
            errors.append(
                FieldError(
                    name,
                    f"{better.segment} (rank {better.rank}) would promise a worse "
                    f"{TARGET_LABELS[name]} than {worse.segment} (rank {worse.rank}); "
                    "raise the better tier or set 'allow below lower tier'",
                )
            )
    return errors


# ---------------------------------------------------------------------------------------------
# Reading


def _overlapping(start: date, end: date | None) -> list[Any]:
    """Conditions: a version's period overlaps ``[start, end)``."""
    conditions: list[Any] = [
        or_(EntitlementVersion.effective_to.is_(None), EntitlementVersion.effective_to > start)
    ]
    if end is not None:
        conditions.append(EntitlementVersion.effective_from < end)
    return conditions


async def entitlement_at(
    session: AsyncSession, scheme_code: str, segment_code: str, day: date
) -> EntitlementVersion | None:
    """The version of ``segment_code`` in force on ``day``, if any."""
    found = await session.execute(
        select(EntitlementVersion).where(
            EntitlementVersion.scheme_code == scheme_code,
            EntitlementVersion.segment_code == segment_code,
            EntitlementVersion.effective_from <= day,
            or_(EntitlementVersion.effective_to.is_(None), EntitlementVersion.effective_to > day),
        )
    )
    return found.scalars().first()


async def targets_in_force(
    session: AsyncSession, scheme_code: str, day: date
) -> dict[str, dict[str, float]]:
    """Segment -> its ``cycle_service_level`` and ``fill_rate`` targets (fractions) in force
    on ``day``: what inventory policy stocks for. One query."""
    rows = await session.execute(
        select(
            EntitlementVersion.segment_code,
            EntitlementVersion.cycle_service_level,
            EntitlementVersion.fill_rate_target,
        ).where(
            EntitlementVersion.scheme_code == scheme_code,
            EntitlementVersion.effective_from <= day,
            or_(EntitlementVersion.effective_to.is_(None), EntitlementVersion.effective_to > day),
        )
    )
    return {
        segment: {"cycle_service_level": float(csl), "fill_rate": float(fill)}
        for segment, csl, fill in rows.all()
    }


async def versions_of_scheme(session: AsyncSession, scheme_code: str) -> list[EntitlementVersion]:
    """Every version of every segment of the scheme, newest first per segment."""
    rows = await session.execute(
        select(EntitlementVersion)
        .where(EntitlementVersion.scheme_code == scheme_code)
        .order_by(EntitlementVersion.segment_code, EntitlementVersion.version.desc())
    )
    return list(rows.scalars())


def _public(version: EntitlementVersion) -> PublicEntitlement:
    return PublicEntitlement(
        segment=version.segment_code,
        version=version.version,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        fill_rate=_pct(version.fill_rate_target),
        otif=_pct(version.otif_target),
        perfect_order=_pct(version.perfect_order_target),
        quoted_lead_time_days=version.quoted_lead_time_days,
        delivery_windows=list(version.delivery_windows or []),
    )


def public_entitlement(version: EntitlementVersion | None) -> PublicEntitlement | None:
    """The customer-facing shape of a version (``customer_safe.CUSTOMER_ENTITLEMENTS``, rates
    in percent, with its effective dates): no cycle service level, priorities, transport
    rules, taxonomy, note, author, nothing about money."""
    return None if version is None else _public(version)


@functools.cache
def _in_force_statement() -> Select[Any]:
    """Per customer scheme the account is assigned in: its open assignment, the segment in the
    published version and the entitlement version in force on the day, in ONE statement (a
    portal page reads it in one round trip however many schemes there are). Built once; the
    account and the day are bound per call."""
    open_rows = open_customer_assignments()
    day = bindparam("day", type_=Date())
    ends = EntitlementVersion.effective_to
    return (
        select(
            open_rows.c.scheme_code,
            open_rows.c.segment,
            open_rows.c.valid_from,
            open_rows.c.scheme_name,
            open_rows.c.document,
            EntitlementVersion,
        )
        .select_from(open_rows)
        .outerjoin(
            EntitlementVersion,
            and_(
                EntitlementVersion.scheme_code == open_rows.c.scheme_code,
                EntitlementVersion.segment_code == open_rows.c.segment,
                EntitlementVersion.effective_from <= day,
                or_(ends.is_(None), ends > day),
            ),
        )
        .where(open_rows.c.customer_code == bindparam("account"))
        .order_by(open_rows.c.scheme_code, EntitlementVersion.version.desc())
    )


async def entitlements_for_customer(
    session: AsyncSession, customer_code: str, day: date
) -> list[SchemeEntitlement]:
    """Per customer scheme the customer is currently assigned in: the segment (name, colour,
    rank from the published version) and the entitlement version in force on ``day``, as
    customer-safe data, by scheme."""
    rows = await session.execute(_in_force_statement(), {"account": customer_code, "day": day})
    found: list[SchemeEntitlement] = []
    for scheme_code, segment_code, valid_from, scheme_name, document, version in rows.all():
        if found and found[-1].scheme_code == scheme_code:
            continue  # overlapping versions in force (never written so): the newest one
        segment = {s.get("code"): s for s in document.get("segments", [])}.get(segment_code, {})
        found.append(
            SchemeEntitlement(
                scheme_code=scheme_code,
                scheme_name=scheme_name,
                segment_code=segment_code,
                segment_name=str(segment.get("name") or segment_code),
                segment_colour=segment.get("colour"),
                segment_rank=segment.get("rank"),
                valid_from=valid_from,
                version=public_entitlement(version),
            )
        )
    return found


def entitlement_public_dict(
    version: EntitlementVersion | PublicEntitlement | SchemeEntitlement | None,
) -> dict[str, Any]:
    """The customer-facing shape as a dictionary (dates in ISO form); empty for no version."""
    if isinstance(version, SchemeEntitlement):
        version = version.version
    if isinstance(version, EntitlementVersion):
        version = _public(version)
    if version is None:
        return {}
    found: dict[str, Any] = msgspec.to_builtins(version)
    return found


async def segment_entitlements(
    session: AsyncSession, scheme_code: str, segment: str | None, day: date
) -> dict[str, Any] | None:
    """The customer-facing entitlements of ``segment`` in force on ``day`` by key (what a
    customer notice keeps), or None."""
    if segment is None:
        return None
    version = await entitlement_at(session, scheme_code, segment, day)
    if version is None:
        return None
    return _public(version).values()


def entitlement_dict(version: EntitlementVersion) -> dict[str, Any]:
    """The staff shape (API and audit): stored fractions plus who wrote it and the note."""
    return {
        "id": version.id,
        "scheme_code": version.scheme_code,
        "segment_code": version.segment_code,
        "version": version.version,
        "effective_from": version.effective_from.isoformat(),
        "effective_to": version.effective_to.isoformat() if version.effective_to else None,
        **{name: float(getattr(version, name)) for name in TARGETS},
        "quoted_lead_time_days": version.quoted_lead_time_days,
        "delivery_windows": list(version.delivery_windows or []),
        "allocation_priority": version.allocation_priority,
        "allocation_min_share": float(version.allocation_min_share),
        "picking_priority": version.picking_priority,
        "transport_rules": version.transport_rules,
        "taxonomy_code": version.taxonomy_code,
        "allow_below_lower_tier": version.allow_below_lower_tier,
        "note": version.note,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "created_by": version.created_by,
    }


# ---------------------------------------------------------------------------------------------
# Validation against the database


async def _overlap_errors(
    session: AsyncSession, scheme_code: str, segment_code: str, data: EntitlementInput
) -> tuple[list[FieldError], EntitlementVersion | None]:
    """Overlapping versions of the segment; the open one ``close_open_version`` may end."""
    rows = await session.execute(
        select(EntitlementVersion)
        .where(
            EntitlementVersion.scheme_code == scheme_code,
            EntitlementVersion.segment_code == segment_code,
            *_overlapping(data.effective_from, data.effective_to),
        )
        .order_by(EntitlementVersion.effective_from)
    )
    clashes = list(rows.scalars())
    closable = None
    if data.close_open_version:
        closable = next(
            (
                v
                for v in clashes
                if v.effective_to is None and v.effective_from < data.effective_from
            ),
            None,
        )
    errors = [
        FieldError(
            "effective_from",
            f"overlaps version {v.version} of {segment_code} "
            f"({_period(v.effective_from, v.effective_to)})",
        )
        for v in clashes
        if v is not closable
    ]
    return errors, closable


async def _order_errors(
    session: AsyncSession,
    scheme_code: str,
    segment_code: str,
    data: EntitlementInput,
    ranks: dict[str, int],
) -> list[FieldError]:
    rows = await session.execute(
        select(EntitlementVersion).where(
            EntitlementVersion.scheme_code == scheme_code,
            EntitlementVersion.segment_code != segment_code,
            *_overlapping(data.effective_from, data.effective_to),
        )
    )
    others = [
        promise_of(v, v.segment_code, ranks[v.segment_code])
        for v in rows.scalars()
        if v.segment_code in ranks
    ]
    return order_errors(promise_of(data, segment_code, ranks[segment_code]), others)


async def _contract_errors(
    session: AsyncSession, scheme_code: str, segment_code: str, data: EntitlementInput
) -> list[FieldError]:
    """Customers now in the segment whose contract (overlapping the period) asks for more."""
    conditions: list[Any] = [
        or_(Contract.valid_to.is_(None), Contract.valid_to > data.effective_from)
    ]
    if data.effective_to is not None:
        conditions.append(Contract.valid_from < data.effective_to)
    assigned = customers_in_segment(scheme_code, segment_code)
    rows = await session.execute(
        select(Contract)
        .join(assigned, assigned.c.customer_code == Contract.customer_code)
        .where(*conditions)
        .order_by(Contract.customer_code, Contract.valid_from)
    )
    promise = promise_of(data, segment_code, 0)
    features = entitlement_features(data)
    below: dict[str, str] = {}
    for contract in rows.scalars():
        gaps = shortfalls(contract, promise)
        day = max(contract.valid_from, data.effective_from)
        question = ContractQuestion(
            contract.customer_code, contract.reference, scheme_code, segment_code, day, features
        )
        gaps += await other_conflicts(session, question)
        if gaps and contract.customer_code not in below:
            below[contract.customer_code] = f"{contract.customer_code} ({gaps[0]})"
    if not below:
        return []
    shown = list(below.values())[:CONTRACT_CUSTOMERS_SHOWN]
    more = len(below) - len(shown)
    tail = f" and {more} more" if more > 0 else ""
    return [
        FieldError(
            "contract",
            f"{len(below)} customer(s) in {segment_code} would fall below their contract: "
            + "; ".join(shown)
            + tail,
        )
    ]


async def validate_entitlement(
    session: AsyncSession, scheme_code: str, segment_code: str, data: EntitlementInput
) -> list[FieldError]:
    """Every problem with saving ``data`` as the segment's next version (empty: fine)."""
    errors, _ = await _validate(session, scheme_code, segment_code, data)
    return errors


async def _validate(
    session: AsyncSession, scheme_code: str, segment_code: str, data: EntitlementInput
) -> tuple[list[FieldError], EntitlementVersion | None]:
    segments = await published_segments(session, scheme_code)
    if segments is None:
        return [FieldError("scheme_code", f"scheme '{scheme_code}' has no published version")], None
    ranks = {s.code: s.rank for s in segments}
    if segment_code not in ranks:
        return [
            FieldError("segment_code", f"'{segment_code}' is not a segment of {scheme_code}")
        ], None
    errors = value_errors(data)
    if errors:
        return errors, None
    overlap, closable = await _overlap_errors(session, scheme_code, segment_code, data)
    errors += overlap
    errors += await _order_errors(session, scheme_code, segment_code, data, ranks)
    if await scheme_entity(session, scheme_code) == "customer":
        errors += await _contract_errors(session, scheme_code, segment_code, data)
    return errors, closable


# ---------------------------------------------------------------------------------------------
# Writing


async def save_entitlement_version(
    session: AsyncSession,
    scheme_code: str,
    segment_code: str,
    data: EntitlementInput,
    actor: ActingParty,
) -> EntitlementVersion:
    """Validate and add the segment's next version (audited); EntitlementInvalid otherwise."""
    await lock_service_levels(session)
    errors, closable = await _validate(session, scheme_code, segment_code, data)
    if errors:
        raise EntitlementInvalid(errors)
    if closable is not None:
        before = entitlement_dict(closable)
        closable.effective_to = data.effective_from
        await session.flush()
        await record_by(
            session,
            actor,
            "entitlements.close",
            "entitlement_version",
            f"{scheme_code}/{segment_code}/{closable.version}",
            before={"effective_to": before["effective_to"]},
            after={"effective_to": data.effective_from.isoformat()},
            reason=f"superseded by a version from {data.effective_from.isoformat()}",
        )
    number = await session.scalar(
        select(func.coalesce(func.max(EntitlementVersion.version), 0)).where(
            EntitlementVersion.scheme_code == scheme_code,
            EntitlementVersion.segment_code == segment_code,
        )
    )
    row = EntitlementVersion(
        scheme_code=scheme_code,
        segment_code=segment_code,
        version=int(number or 0) + 1,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        **{name: _fraction(getattr(data, name)) for name in TARGETS},
        quoted_lead_time_days=data.quoted_lead_time_days,
        delivery_windows=msgspec.to_builtins(data.delivery_windows),
        allocation_priority=data.allocation_priority,
        allocation_min_share=_fraction(data.allocation_min_share),
        picking_priority=data.picking_priority,
        transport_rules=(data.transport_rules or "").strip() or None,
        taxonomy_code=(data.taxonomy_code or "").strip() or None,
        allow_below_lower_tier=data.allow_below_lower_tier,
        note=(data.note or "").strip() or None,
        created_by=actor.name,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await record_by(
        session,
        actor,
        "entitlements.create",
        "entitlement_version",
        f"{scheme_code}/{segment_code}/{row.version}",
        after=entitlement_dict(row),
        reason=row.note,
    )
    return row
