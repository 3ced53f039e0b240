"""What a customer may see of service levels, and the one filter for everything else.

A customer (the portal, the notices it is sent) sees its segment and what the segment
promises: targets in percent, delivery windows, lead time, priorities, transport rules, the
harmonized taxonomy code and the effective dates. It never sees margin, cost, revenue, prices,
internal notes or who wrote a version. The shapes below hold only the visible values;
:func:`customer_safe` drops every key that smells internal from any other mapping, and the
portal's last line of defence uses the same markers (:func:`is_private`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import msgspec

PRIVATE_MARKERS = ("margin", "cost", "revenue", "internal", "note", "price")


def is_private(key: object) -> bool:
    """Whether a mapping key names something a customer must not see."""
    name = str(key).lower()
    return any(marker in name for marker in PRIVATE_MARKERS)


def customer_safe(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``values`` without anything that looks internal (margin, cost, notes), recursively."""
    if values is None:
        return None
    safe: dict[str, Any] = {}
    for key, value in values.items():
        if is_private(key):
            continue
        safe[str(key)] = customer_safe(value) if isinstance(value, Mapping) else value
    return safe


class PublicEntitlement(msgspec.Struct, frozen=True, kw_only=True):
    """What a segment promises from ``effective_from`` until (excluding) ``effective_to``, in
    the customer's terms: rates in percent."""

    segment: str
    version: int
    effective_from: date
    effective_to: date | None
    fill_rate_pct: float
    otif_pct: float
    perfect_order_pct: float
    cycle_service_level_pct: float
    quoted_lead_time_days: int
    delivery_windows: list[dict[str, Any]]
    allocation_priority: int
    allocation_min_share_pct: float
    picking_priority: int
    transport_rules: str | None
    taxonomy_code: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates in ISO form), in field order."""
        found: dict[str, Any] = msgspec.to_builtins(self)
        return found


class SchemeEntitlement(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's open segment in one customer scheme, with the entitlement version in force
    (None when the segment has none on the day)."""

    scheme_code: str
    scheme_name: str
    segment_code: str
    segment_name: str
    segment_colour: str | None
    segment_rank: int | None
    valid_from: datetime  # since when the customer is in the segment
    version: PublicEntitlement | None


class CustomerEntitlements(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a customer is promised on ``day``: one entry per customer scheme it is
    assigned in, by scheme code."""

    customer_code: str
    day: date
    schemes: tuple[SchemeEntitlement, ...]
