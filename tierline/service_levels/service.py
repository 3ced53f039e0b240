"""Service levels' face to the other domains: what a customer is promised (customer-facing, and
the one wording of it), the contract check of a move, the one customer-safe filter, and the
writers the demo seeds with.
Other domains import this module, never service levels' models or other modules."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.service_levels.contract_checks import (
    CONTRACT_CHECKS,
    FEATURES,
    ContractCheck,
    ContractQuestion,
    entitlement_features,
)
from tierline.service_levels.contracts import (
    ContractInput,
    ContractInvalid,
    active_contract,
    contract_conflicts,
    contracted_customers,
    save_contract,
)
from tierline.service_levels.customer_safe import (
    CUSTOMER_ENTITLEMENTS,
    PRIVATE_MARKERS,
    CustomerEntitlements,
    EntitlementLine,
    PublicEntitlement,
    SchemeEntitlement,
    customer_entitlements,
    customer_facing,
    customer_safe,
    is_private,
)
from tierline.service_levels.entitlements import (
    DeliveryWindow,
    EntitlementInput,
    EntitlementInvalid,
    entitlement_at,
    entitlement_dict,
    entitlements_for_customer,
    save_entitlement_version,
    segment_entitlements,
    targets_in_force,
    versions_of_scheme,
)
from tierline.service_levels.escalation import (
    EscalationInvalid,
    StepInput,
    get_escalation,
    save_escalation,
    step_dict,
)

__all__ = [
    "CONTRACT_CHECKS",
    "CUSTOMER_ENTITLEMENTS",
    "FEATURES",
    "PRIVATE_MARKERS",
    "ContractCheck",
    "ContractInput",
    "ContractInvalid",
    "ContractQuestion",
    "CustomerEntitlements",
    "DeliveryWindow",
    "EntitlementInput",
    "EntitlementInvalid",
    "EntitlementLine",
    "EscalationInvalid",
    "PublicEntitlement",
    "SchemeEntitlement",
    "StepInput",
    "contract_conflicts",
    "contract_reference",
    "contracted_customers",
    "customer_entitlements",
    "customer_facing",
    "customer_safe",
    "entitlement_features",
    "entitlement_versions",
    "entitlements_in_force",
    "escalation_path",
    "has_contract",
    "is_private",
    "save_contract",
    "save_entitlement_version",
    "save_escalation",
    "segment_entitlements",
    "segment_features",
    "targets_in_force",
]


async def entitlements_in_force(
    session: AsyncSession, customer_code: str, day: date
) -> CustomerEntitlements:
    """What the customer is promised on ``day``: per customer scheme it is assigned in, its
    open segment and the entitlement version in force, customer-safe. One round trip."""
    schemes = await entitlements_for_customer(session, customer_code, day)
    return CustomerEntitlements(customer_code=customer_code, day=day, schemes=tuple(schemes))


async def has_contract(session: AsyncSession, customer_code: str, day: date) -> bool:
    """Whether a contract of the customer is in force on ``day``."""
    return await active_contract(session, customer_code, day) is not None


async def entitlement_versions(session: AsyncSession, scheme_code: str) -> list[dict[str, Any]]:
    """Every entitlement version of the scheme's segments in the staff shape (fractions 0..1,
    author, note), newest first per segment."""
    return [entitlement_dict(v) for v in await versions_of_scheme(session, scheme_code)]


async def escalation_path(
    session: AsyncSession, scheme_code: str, segment_code: str
) -> list[dict[str, Any]]:
    """The segment's escalation steps in order (empty when it has no path)."""
    return [step_dict(s) for s in await get_escalation(session, scheme_code, segment_code)]


async def segment_features(
    session: AsyncSession, scheme_code: str, segment: str, day: date
) -> frozenset[str]:
    """The entitlement features the segment promises on ``day`` (``FEATURES``)."""
    return entitlement_features(await entitlement_at(session, scheme_code, segment, day))


async def contract_reference(session: AsyncSession, customer_code: str, day: date) -> str | None:
    """The reference of the customer's contract in force on ``day`` (None: no contract)."""
    contract = await active_contract(session, customer_code, day)
    return None if contract is None else contract.reference
