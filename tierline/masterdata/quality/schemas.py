"""The data-quality API's structs (``/api/v1/data-quality``), and the report in their shape:
revenue shares null with ``masked`` true for readers without ``margin:read``."""

from __future__ import annotations

from datetime import datetime

import msgspec

from tierline.masterdata.quality.checks import Example, Finding
from tierline.masterdata.quality.feeds import FeedState
from tierline.masterdata.quality.money import EstimatedMargins
from tierline.masterdata.quality.service import QualityReport


class FeedOut(msgspec.Struct):
    name: str
    entity: str
    source_system: str
    status: str  # fresh | stale | never
    reason: str | None
    last_success_at: datetime | None
    newest_source_at: datetime | None
    staleness_hours: int
    steward_email: str | None


class ExampleOut(msgspec.Struct):
    key: str  # customer code, SKU, or "order_no/line_no"
    customer_code: str | None
    sku: str | None


class EstimatedMarginsOut(msgspec.Struct):
    product_line: str | None
    currency: str | None
    lines: int
    estimated_lines: int
    estimated_share: float | None  # of lines
    revenue_share: float | None  # of revenue; null when masked
    masked: bool


class FindingOut(msgspec.Struct):
    key: str
    label: str
    entity: str
    count: int
    checked: int  # rows the check looked at
    share: float | None
    examples: list[ExampleOut]  # at most 20


class DataQualityOut(msgspec.Struct):
    generated_at: datetime
    scoped: bool  # findings limited to the caller's scopes
    feeds: list[FeedOut]
    stale_feeds: int  # stale or never loaded
    order_lines: int
    estimated_margins: list[EstimatedMarginsOut]
    implausible: list[FindingOut]
    missing_attributes: list[FindingOut]


def _feed_out(f: FeedState) -> FeedOut:
    return FeedOut(
        f.name,
        f.entity,
        f.source_system,
        f.status,
        f.reason,
        f.last_success_at,
        f.newest_source_at,
        f.staleness_hours,
        f.steward_email,
    )


def _examples_out(examples: tuple[Example, ...]) -> list[ExampleOut]:
    return [ExampleOut(e.key, e.customer_code, e.sku) for e in examples]


def _finding_out(f: Finding) -> FindingOut:
    return FindingOut(
        f.key, f.label, f.entity, f.count, f.total, f.share, _examples_out(f.examples)
    )


def _estimated_out(e: EstimatedMargins, allowed: bool) -> EstimatedMarginsOut:
    share = e.revenue_share if allowed else None
    return EstimatedMarginsOut(
        e.product_line, e.currency, e.lines, e.estimated, e.share, share, not allowed
    )


def report_out(report: QualityReport, allowed: bool, scoped: bool) -> DataQualityOut:
    return DataQualityOut(
        generated_at=report.generated_at,
        scoped=scoped,
        feeds=[_feed_out(f) for f in report.feeds],
        stale_feeds=len(report.stale),
        order_lines=report.order_lines,
        estimated_margins=[_estimated_out(e, allowed) for e in report.estimated],
        implausible=[_finding_out(f) for f in report.implausible],
        missing_attributes=[_finding_out(f) for f in report.missing],
    )
