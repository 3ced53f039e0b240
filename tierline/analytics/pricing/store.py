"""Service price terms and contract pricing clauses: reading, the check a move or an
entitlement change asks (registered with service levels' contract check), and writing with
the same check first: a term or a clause that would breach a contract is refused with the
customers and reasons, and nothing is saved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.models import ContractPriceClause, ServicePriceTerm
from tierline.analytics.pricing.rules import PriceClause, PriceTerm, breaches, net_adjustment
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.segmentation.service import open_customer_segments, published_segments, scheme_infos
from tierline.service_levels.service import (
    FEATURES,
    ContractQuestion,
    contract_reference,
    segment_features,
)

CHECKED_CUSTOMERS = 10_000  # contracts with pricing clauses are few; a bound all the same


class PricingRefused(DomainError):
    """A term or clause that cannot be saved (the message says why; nothing was saved)."""

    status_code = 422
    title = "Pricing refused"


class PriceTermIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A service surcharge (positive) or discount (negative) in basis points of the order
    value, for one ``segment`` or one entitlement ``feature`` of a customer scheme."""

    scheme_code: str
    segment: str | None = None
    feature: str | None = None
    adjustment_bp: int
    valid_from: date
    valid_to: date | None = None
    note: str | None = None


class PriceClauseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The pricing clause of the customer's contract in force (named by its reference)."""

    customer_code: str
    contract_reference: str
    max_surcharge_bp: int | None = None
    min_discount_bp: int | None = None


def _term(row: ServicePriceTerm) -> PriceTerm:
    return PriceTerm(
        row.id, row.scheme_code, row.segment, row.feature, row.adjustment_bp,
        row.valid_from, row.valid_to, row.note,
    )  # fmt: skip


def _clause(row: ContractPriceClause) -> PriceClause:
    return PriceClause(
        row.customer_code, row.contract_reference, row.max_surcharge_bp, row.min_discount_bp
    )


async def price_terms(session: AsyncSession, scheme_code: str | None = None) -> list[PriceTerm]:
    query = select(ServicePriceTerm).order_by(ServicePriceTerm.scheme_code, ServicePriceTerm.id)
    if scheme_code is not None:
        query = query.where(ServicePriceTerm.scheme_code == scheme_code)
    return [_term(r) for r in (await session.execute(query)).scalars()]


async def price_clauses(session: AsyncSession) -> list[PriceClause]:
    query = select(ContractPriceClause).order_by(ContractPriceClause.customer_code)
    return [_clause(r) for r in (await session.execute(query)).scalars()]


async def _clause_of(session: AsyncSession, reference: str) -> PriceClause | None:
    row = (
        await session.execute(
            select(ContractPriceClause).where(ContractPriceClause.contract_reference == reference)
        )
    ).scalar()
    return None if row is None else _clause(row)


async def pricing_conflicts(session: AsyncSession, question: ContractQuestion) -> list[str]:
    """The contract-check hook: the pricing clause of the contract, against the net
    adjustment of the segment the customer would be in."""
    clause = await _clause_of(session, question.contract_reference)
    if clause is None:
        return []
    terms = await price_terms(session, question.scheme_code)
    if not terms:  # a scheme without price terms does not price service
        return []
    net = net_adjustment(
        terms, question.scheme_code, question.to_segment, question.features, question.day
    )
    return [f"pricing: {line}" for line in breaches(clause, net, question.to_segment)]


async def _breaches_today(
    session: AsyncSession, clauses: list[PriceClause], terms: list[PriceTerm], day: date
) -> list[str]:
    """For each clause's customer in its current segment of every customer scheme with terms
    (a scheme without price terms does not price service): the breaches ``terms`` would cause
    on ``day``."""
    schemes = {t.scheme_code for t in terms}
    codes = [c.customer_code for c in clauses]
    placed = await open_customer_segments(session, codes, CHECKED_CUSTOMERS)
    by_customer = {c.customer_code: c for c in clauses}
    found = []
    for where in placed:
        if where.scheme_code not in schemes:
            continue
        features = await segment_features(session, where.scheme_code, where.segment, day)
        net = net_adjustment(terms, where.scheme_code, where.segment, features, day)
        for line in breaches(by_customer[where.customer_code], net, where.segment):
            found.append(f"{where.customer_code}: {line}")
    return found


def _today() -> date:
    return datetime.now(UTC).date()


async def _check_term(session: AsyncSession, data: PriceTermIn) -> None:
    if (data.segment is None) == (data.feature is None):
        raise PricingRefused("name either a segment or an entitlement feature, not both")
    if not -10_000 <= data.adjustment_bp <= 10_000:
        raise PricingRefused("an adjustment lies between -10000 and 10000 basis points")
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        raise PricingRefused("valid_to must be after valid_from")
    customer_schemes = {s.code for s in await scheme_infos(session, entity="customer")}
    if data.scheme_code not in customer_schemes:
        raise PricingRefused(f"no customer scheme '{data.scheme_code}'")
    if data.segment is not None:
        segments = {s.code for s in await published_segments(session, data.scheme_code) or []}
        if data.segment not in segments:
            raise PricingRefused(f"'{data.segment}' is not a segment of {data.scheme_code}")
    if data.feature is not None and data.feature not in FEATURES:
        raise PricingRefused(f"unknown feature '{data.feature}'; one of {', '.join(FEATURES)}")


async def save_term(session: AsyncSession, data: PriceTermIn, actor: ActingParty) -> PriceTerm:
    """Validate, check every contract clause against the terms with this one added (on its
    first day or today, whichever is later), then add it (audited)."""
    await _check_term(session, data)
    term = PriceTerm(
        None, data.scheme_code, data.segment, data.feature, data.adjustment_bp,
        data.valid_from, data.valid_to, data.note,
    )  # fmt: skip
    day = max(data.valid_from, _today())
    terms = [*await price_terms(session, data.scheme_code), term]
    found = await _breaches_today(session, await price_clauses(session), terms, day)
    if found:
        raise PricingRefused(
            f"the term would breach {len(found)} contract(s); nothing was saved: "
            + "; ".join(found[:10])
        )
    row = ServicePriceTerm(**msgspec.structs.asdict(data), created_by=actor.name)
    session.add(row)
    await session.flush()
    await record_by(
        session, actor, "analytics.price_term", "service_price_term", str(row.id),
        after=msgspec.to_builtins(data),
    )  # fmt: skip
    return replace(term, id=row.id)


async def save_clause(
    session: AsyncSession, data: PriceClauseIn, actor: ActingParty
) -> PriceClause:
    """Attach (or replace) the pricing clause of the customer's contract in force, refused
    when the customer's pricing already breaches it (audited)."""
    if data.max_surcharge_bp is None and data.min_discount_bp is None:
        raise PricingRefused("agree a maximum surcharge, a minimum discount, or both")
    for name, value in (("max_surcharge_bp", data.max_surcharge_bp),
                        ("min_discount_bp", data.min_discount_bp)):  # fmt: skip
        if value is not None and not 0 <= value <= 10_000:
            raise PricingRefused(f"{name} lies between 0 and 10000 basis points")
    reference = await contract_reference(session, data.customer_code, _today())
    if reference != data.contract_reference:
        raise PricingRefused(
            f"{data.contract_reference} is not the contract of {data.customer_code} in force today"
        )
    clause = PriceClause(
        data.customer_code, data.contract_reference, data.max_surcharge_bp, data.min_discount_bp
    )
    found = await _breaches_today(session, [clause], await price_terms(session), _today())
    if found:
        raise PricingRefused(
            "the customer's service pricing already breaches this clause; nothing was saved: "
            + "; ".join(found)
        )
    row = (
        await session.execute(
            select(ContractPriceClause).where(
                ContractPriceClause.contract_reference == data.contract_reference
            )
        )
    ).scalar()
    if row is None:
        row = ContractPriceClause(
            customer_code=data.customer_code, contract_reference=data.contract_reference
        )
        session.add(row)
    row.max_surcharge_bp, row.min_discount_bp = data.max_surcharge_bp, data.min_discount_bp
    row.created_by = actor.name
    await session.flush()
    await record_by(
        session, actor, "analytics.price_clause", "contract_price_clause",
        data.contract_reference, after=msgspec.to_builtins(data),
    )  # fmt: skip
    return clause
