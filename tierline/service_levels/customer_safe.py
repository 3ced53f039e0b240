"""What a customer may see of service levels, how it is worded, and the one filter for the rest.

A customer (the portal, its documents, the notices it is sent) sees its segment and the
customer-facing entitlements of that segment, listed once here (:data:`CUSTOMER_ENTITLEMENTS`):
fill rate, on time in full, perfect order, quoted lead time and delivery windows, with their
effective dates. Everything else a version holds is the tenant's own business: cycle service
level (safety stock), allocation and picking priority, minimum share, transport rules, the
taxonomy code, internal notes and who wrote the version; margin, cost, revenue or prices never
appear at all. :func:`customer_entitlements` is the one wording of those values (human labels,
units, delivery windows as ``Mon-Fri 08:00-16:00`` with en dashes) that notices, pages, CSV and
PDF all use; :func:`customer_safe` drops every key that smells internal from any other mapping,
and the portal's last line of defence uses the same markers (:func:`is_private`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import msgspec

PRIVATE_MARKERS = ("margin", "cost", "revenue", "internal", "note", "price")

# What customers are shown, in this order: key, label, unit. Rates are in percent.
CUSTOMER_ENTITLEMENTS: tuple[tuple[str, str, str | None], ...] = (
    ("fill_rate", "Fill rate", "%"),
    ("otif", "On time in full (OTIF)", "%"),
    ("perfect_order", "Perfect order", "%"),
    ("quoted_lead_time_days", "Quoted lead time", "days"),
    ("delivery_windows", "Delivery windows", None),
)
# Notices written before the list above keep these names in their stored entitlements.
_EARLIER_KEYS = {
    "fill_rate_pct": "fill_rate",
    "otif_pct": "otif",
    "perfect_order_pct": "perfect_order",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DASH = "\u2013"  # the en dash between the ends of a range of days or hours


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
    """What a segment promises its customers from ``effective_from`` until (excluding)
    ``effective_to``: only the customer-facing entitlements, rates in percent."""

    segment: str
    version: int
    effective_from: date
    effective_to: date | None
    fill_rate: float
    otif: float
    perfect_order: float
    quoted_lead_time_days: int
    delivery_windows: list[dict[str, Any]]

    def values(self) -> dict[str, Any]:
        """The customer-facing values by key (what a notice keeps)."""
        return {key: getattr(self, key) for key, _, _ in CUSTOMER_ENTITLEMENTS}


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


class EntitlementLine(msgspec.Struct, frozen=True, kw_only=True):
    """One customer-facing entitlement, worded: ``label`` and ``text`` for people (``Fill
    rate``, ``98%``), ``key``, ``value`` and ``unit`` for programs."""

    key: str
    label: str
    value: float | int | list[dict[str, Any]]
    unit: str | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = msgspec.to_builtins(self)
        return found


def customer_facing(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Only the customer-facing entitlements of ``values`` (under their names, also when
    stored under an earlier one), in the order customers see them."""
    if values is None:
        return None
    renamed = {_EARLIER_KEYS.get(str(k), str(k)): v for k, v in values.items()}
    return {key: renamed[key] for key, _, _ in CUSTOMER_ENTITLEMENTS if key in renamed}


def customer_entitlements(values: Mapping[str, Any] | None) -> list[EntitlementLine]:
    """The customer-facing entitlements of ``values``, worded for people: the one formatting
    that the portal pages, its API, the CSV and PDF documents and the notices use. Values that
    are missing or unreadable are left out, never shown raw."""
    found = customer_facing(values) or {}
    lines = []
    for key, label, unit in CUSTOMER_ENTITLEMENTS:
        value = found.get(key)
        text = _worded(key, value)
        if value is not None and text is not None:
            lines.append(EntitlementLine(key=key, label=label, value=value, unit=unit, text=text))
    return lines


def _worded(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if key == "delivery_windows":
        return delivery_windows_text(value) if isinstance(value, list) else None
    if not isinstance(value, int | float):
        return None
    if key == "quoted_lead_time_days":
        days = int(value)
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{float(value):g}%"


def _days_text(days: list[str]) -> str:
    """Weekdays as people write them: three or more in a row as a range (Mon to Fri with an en
    dash), others listed (``Mon, Wed``)."""
    index = sorted({WEEKDAYS.index(d) for d in days if d in WEEKDAYS})
    runs: list[list[int]] = []
    for i in index:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        first, last = WEEKDAYS[run[0]].capitalize(), WEEKDAYS[run[-1]].capitalize()
        if len(run) >= 3:
            parts.append(f"{first}{_DASH}{last}")
        else:
            parts.extend(WEEKDAYS[i].capitalize() for i in run)
    return ", ".join(parts)


def delivery_windows_text(windows: list[Any]) -> str | None:
    """The windows as people write them, ranges with en dashes, windows separated by ``; ``
    (None when there is no readable window)."""
    parts = []
    for window in windows:
        if not isinstance(window, Mapping):
            continue
        days = [str(d) for d in window.get("days") or [] if isinstance(d, str)]
        start, end = window.get("from"), window.get("to")
        if not days or not isinstance(start, str) or not isinstance(end, str):
            continue
        parts.append(f"{_days_text(days)} {start}{_DASH}{end}")
    return "; ".join(parts) or None
