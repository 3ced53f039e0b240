"""The arithmetic of service pricing (pure, exact in integer basis points).

A customer's net service adjustment in a segment on a day is the sum of the terms in force then:
those of its segment and those of every entitlement feature its segment promises. Positive is
a surcharge, negative a discount. A contract's pricing clause caps the surcharge
(``max_surcharge_bp``) and/or guarantees a discount (``min_discount_bp``): a net surcharge
above the cap, or a net discount below the guarantee (a surcharge counts as no discount at
all), breaches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PriceTerm:
    id: int | None
    scheme_code: str
    segment: str | None
    feature: str | None
    adjustment_bp: int
    valid_from: date
    valid_to: date | None
    note: str | None = None

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def applies(self, scheme_code: str, segment: str, features: frozenset[str]) -> bool:
        if self.scheme_code != scheme_code:
            return False
        return self.segment == segment if self.segment is not None else self.feature in features


@dataclass(frozen=True)
class PriceClause:
    customer_code: str
    contract_reference: str
    max_surcharge_bp: int | None
    min_discount_bp: int | None


def percent(bp: int) -> str:
    """Basis points as a percentage with two decimals (exact: 250 -> 2.50%)."""
    sign = "-" if bp < 0 else ""
    whole, rest = divmod(abs(bp), 100)
    return f"{sign}{whole}.{rest:02d}%"


def net_adjustment(
    terms: Iterable[PriceTerm],
    scheme_code: str,
    segment: str,
    features: frozenset[str],
    day: date,
) -> int:
    """The sum of the terms that apply to ``segment`` (and its ``features``) on ``day``."""
    return sum(
        t.adjustment_bp
        for t in terms
        if t.in_force(day) and t.applies(scheme_code, segment, features)
    )


def breaches(clause: PriceClause, net_bp: int, segment: str) -> list[str]:
    """Why a net adjustment of ``net_bp`` in ``segment`` breaches ``clause`` (empty: it
    does not)."""
    found = []
    if clause.max_surcharge_bp is not None and net_bp > clause.max_surcharge_bp:
        found.append(
            f"{segment} carries a net service surcharge of {percent(net_bp)}; contract "
            f"{clause.contract_reference} allows at most {percent(clause.max_surcharge_bp)}"
        )
    if clause.min_discount_bp is not None and -net_bp < clause.min_discount_bp:
        given = f"a net discount of {percent(-net_bp)}" if net_bp < 0 else "no discount"
        found.append(
            f"{segment} gives {given}; contract {clause.contract_reference} guarantees "
            f"{percent(clause.min_discount_bp)}"
        )
    return found
