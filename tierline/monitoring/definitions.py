"""KPI definitions: how a tenant measures service, versioned, with the defaults Tierline ships.

The field has no single definition of OTIF, so the choices are the tenant's and each one is
written down: which date an order is judged against (``promised`` or ``requested``), how many
days early (by default any early delivery) or late still count as on time, whether OTIF is
judged per line or per order, and whether the perfect-order rate is the share of orders perfect
in every respect (``order``, the default) or the product of its component rates (``product``,
what many ERP reports show; it differs from the joint rate whenever failures coincide on the
same orders or spread over different ones).

A changed definition is a new version; stored results say which version computed them. Alert
rules live beside the KPI choices because they read the same periods: below target in ``k`` of
the last ``n`` periods, optionally with an EWMA or CUSUM drift test (see ``alerts.rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from tierline.platform.errors import DomainError

BASES = ("promised", "requested")
LEVELS = ("line", "order")
PERFECT_ORDER_MODES = ("order", "product")
DRIFT_METHODS = ("none", "ewma", "cusum")
MAX_TOLERANCE_DAYS = 60  # a window wider than two months says nothing about punctuality
MAX_PERIODS = 26


class KpiDefinition(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One version of the tenant's KPI choices (the defaults are Tierline's)."""

    version: int = 1
    otif_basis: str = "promised"
    early_days: int | None = None  # None: any early delivery is on time
    late_days: int = 0
    otif_level: str = "line"
    perfect_order: str = "order"
    alert_k: int = 3
    alert_n: int = 4
    drift: str = "none"
    note: str | None = None


DEFAULT = KpiDefinition()


@dataclass(frozen=True)
class DefinitionError:
    field: str
    message: str


class DefinitionInvalid(DomainError):
    """A definition refused; ``errors`` names each field and what is wrong."""

    status_code = 422
    title = "KPI definition refused"

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _choice(errors: list[DefinitionError], name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        errors.append(DefinitionError(name, f"unknown '{value}' (one of {', '.join(allowed)})"))


def definition_errors(definition: KpiDefinition) -> list[DefinitionError]:
    """Everything wrong with ``definition``, each with its field (pure)."""
    errors: list[DefinitionError] = []
    _choice(errors, "otif_basis", definition.otif_basis, BASES)
    _choice(errors, "otif_level", definition.otif_level, LEVELS)
    _choice(errors, "perfect_order", definition.perfect_order, PERFECT_ORDER_MODES)
    _choice(errors, "drift", definition.drift, DRIFT_METHODS)
    for name in ("early_days", "late_days"):
        days = getattr(definition, name)
        if days is not None and not 0 <= days <= MAX_TOLERANCE_DAYS:
            errors.append(
                DefinitionError(name, f"must be 0 to {MAX_TOLERANCE_DAYS} days (got {days})")
            )
    if not 1 <= definition.alert_n <= MAX_PERIODS:
        errors.append(DefinitionError("alert_n", f"must be 1 to {MAX_PERIODS} periods"))
    if not 1 <= definition.alert_k <= definition.alert_n:
        errors.append(DefinitionError("alert_k", f"must be 1 to n ({definition.alert_n}) periods"))
    if definition.version < 1:
        errors.append(DefinitionError("version", "versions are numbered from 1"))
    return errors


def parse_definition(raw: dict[str, Any]) -> KpiDefinition:
    """A definition from stored or submitted JSON; :class:`DefinitionInvalid` with every
    reason when it is not one (an unknown field, a wrong type, an impossible value)."""
    try:
        definition = msgspec.convert(raw, KpiDefinition)
    except msgspec.ValidationError as exc:
        raise DefinitionInvalid([DefinitionError("definition", str(exc))]) from None
    errors = definition_errors(definition)
    if errors:
        raise DefinitionInvalid(errors)
    return definition


def as_dict(definition: KpiDefinition) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(definition)
    return found
