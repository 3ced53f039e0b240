"""API shapes of the portal (documentation of what ``service`` builds; the hot entitlements
route sends its cached bytes as built)."""

from __future__ import annotations

from typing import Any

import msgspec


class EntitlementLineOut(msgspec.Struct):
    """One entitlement as customers see it: ``label`` and ``text`` for people (``Fill rate``,
    ``98%``), ``key``, ``value`` and ``unit`` for programs."""

    key: str
    label: str
    value: float | int | list[dict[str, Any]]
    unit: str | None
    text: str


class EntitlementsInForceOut(msgspec.Struct):
    """What a segment promises from ``effective_from`` (until ``effective_to``)."""

    effective_from: str
    effective_to: str | None
    items: list[EntitlementLineOut]


class AccountSegmentOut(msgspec.Struct):
    """The account's segment in one customer scheme, with the entitlements in force."""

    account: str
    scheme: str
    scheme_name: str
    segment: str
    segment_name: str | None
    segment_colour: str | None
    assigned_from: str
    entitlements: EntitlementsInForceOut | None


class AccountOut(msgspec.Struct):
    """A customer account the caller may see."""

    code: str
    name: str
    account_type: str
    parent_code: str | None


class SegmentBriefOut(msgspec.Struct):
    """A ship-to's segment in one scheme."""

    scheme: str
    scheme_name: str
    segment: str
    assigned_from: str


class AccountBelowOut(AccountOut):
    """An account below the caller's (a ship-to) with its segments."""

    segments: list[SegmentBriefOut]


class PortalOverviewOut(msgspec.Struct):
    """The caller's account with its segments and entitlements, and the accounts below it
    (the first of ``accounts_below_total``)."""

    account: AccountOut
    as_of: str
    segments: list[AccountSegmentOut]
    accounts_below: list[AccountBelowOut]
    accounts_below_total: int


class PerformancePeriodOut(msgspec.Struct):
    """One week or month: lines ordered and delivered, the measures (fractions) and the
    targets in force in it (a segment change moves them)."""

    period_start: str
    lines: int
    delivered_lines: int
    fill_rate: float | None
    otif: float | None
    perfect_order: float | None
    lead_time_days: float | None
    targets: dict[str, float | None]


class PortalPerformanceOut(msgspec.Struct):
    """Fill rate, OTIF, perfect order and lead time over 12 weeks or months, with targets
    (fractions; lead time in days) from the entitlements in force."""

    account: str
    grain: str
    targets: dict[str, float | None]
    periods: list[PerformancePeriodOut]


class NoticeOut(msgspec.Struct):
    """A notice to the customer: a segment change and the entitlements before and after."""

    id: int
    account: str
    kind: str
    title: str
    body: str
    effective_date: str | None
    old_segment: str | None
    new_segment: str | None
    old_entitlements: list[EntitlementLineOut] | None
    new_entitlements: list[EntitlementLineOut] | None
    created_at: str | None


class PortalNoticesOut(msgspec.Struct):
    """A page of the account's notices, newest first (``next_cursor`` as ``cursor``)."""

    account: str
    notices: list[NoticeOut]
    next_cursor: str | None
