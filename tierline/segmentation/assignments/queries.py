"""The read side of assignments: what is in force, the timeline, segment counts and the sales
vs operations view; and the open customer assignments other domains build on.

Plain async functions over a tenant session (``tenant_session`` has bound the schema). Lists are
keyset-paged: a page returns the cursor of the next one, never an offset, so paging stays
cheap on a million assignments.

**Sales vs operations (``conflicts``).** For a customer scheme, the *sales view* of an account
is ``customers.strategic`` and ``customers.crm_tier`` (synthetic data and SAP's KDGRP use
``platinum > gold > silver > bronze``); the *operations view* is the scheme's open assignment
plus the ABC/XYZ class of the scheme's latest succeeded run. Segments are ordered by rank (1 =
highest priority); the *lower half* is the segments whose position in that order is at least
half the number of segments (of 3 segments: the last; of 4: the last two). They disagree when

- ``under_served``: sales treats the account as top (strategic, or ``crm_tier`` in
  :data:`TOP_CRM_TIERS`) while operations puts it in the lower half of the segments;
- ``over_served``: sales treats it as low (not strategic, ``crm_tier`` in
  :data:`LOW_CRM_TIERS` or unset) while operations puts it in the top-ranked segment.

Everything else (gold accounts anywhere, top accounts in a middle segment, ...) is agreement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    Subquery,
    and_,
    case,
    column,
    false,
    func,
    literal,
    or_,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.platform.errors import DomainError
from tierline.platform.frames import read_frame
from tierline.segmentation.models import (
    RunResult,
    SchemeVersion,
    SegmentAssignment,
    SegmentationScheme,
)
from tierline.segmentation.runs.queries import DEFAULT_LIMIT, clamp, escape_like, latest_run
from tierline.segmentation.schemes.store import SegmentInfo, get_scheme, segment_catalogue

TOP_CRM_TIERS = frozenset({"platinum"})
LOW_CRM_TIERS = frozenset({"silver", "bronze"})
CONFLICT_KINDS = ("under_served", "over_served")

# Master data is read through lightweight table clauses (the masterdata package has no service
# for it); the unit of work's search_path binds them to the tenant schema.
_customers = table(
    "customers",
    column("code", String),
    column("name", String),
    column("strategic", Boolean),
    column("crm_tier", String),
    column("account_manager_email", String),
    column("scope", String),
)
_products = table("products", column("sku", String), column("description", String))


class NotACustomerScheme(DomainError):
    status_code = 409
    title = "Not a customer scheme"


# ---------------------------------------------------------------------------------------------
# Assignments


@dataclass(frozen=True)
class AssignmentPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None  # the last entity_key; pass as ``after``


def in_force_at(as_of: datetime | None) -> ColumnElement[bool]:
    """Rows valid at ``as_of`` (``valid_from <= t < valid_to``, open-ended), or open rows."""
    a = SegmentAssignment
    if as_of is None:
        return a.valid_to.is_(None)
    return and_(a.valid_from <= as_of, or_(a.valid_to.is_(None), a.valid_to > as_of))


def _entity_name() -> ColumnElement[Any]:
    return func.coalesce(_customers.c.name, _products.c.description)


async def assignments(
    session: AsyncSession,
    *,
    scheme: str,
    segment: str | None = None,
    entity: str | None = None,
    as_of: datetime | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> AssignmentPage:
    """Assignments of one scheme in force at ``as_of`` (default: now), by entity key.

    ``entity`` matches a key exactly or as a prefix (``C001`` finds ``C001`` and ``C0012``).
    """
    a = SegmentAssignment
    limit = clamp(limit)
    query = (
        select(
            a.entity_key,
            a.customer_code,
            a.sku,
            a.segment,
            a.valid_from,
            a.valid_to,
            a.source,
            a.reason,
            a.run_id,
            a.created_by,
            _entity_name().label("name"),
        )
        .outerjoin(_customers, _customers.c.code == a.customer_code)
        .outerjoin(_products, and_(_products.c.sku == a.sku, a.customer_code.is_(None)))
        .where(a.scheme_code == scheme, in_force_at(as_of))
    )
    if segment:
        query = query.where(a.segment == segment)
    if entity:
        query = query.where(a.entity_key.like(escape_like(entity) + "%", escape="\\"))
    if after:
        query = query.where(a.entity_key > after)
    result = await session.execute(query.order_by(a.entity_key).limit(limit + 1))
    rows = [dict(m) for m in result.mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return AssignmentPage(rows, rows[-1]["entity_key"] if more and rows else None)


async def segment_counts(
    session: AsyncSession, scheme: str, as_of: datetime | None = None
) -> dict[str, int]:
    a = SegmentAssignment
    rows = await session.execute(
        select(a.segment, func.count())
        .where(a.scheme_code == scheme, in_force_at(as_of))
        .group_by(a.segment)
    )
    return {str(s): int(n) for s, n in rows.all()}


async def timeline(
    session: AsyncSession, *, customer_code: str | None = None, sku: str | None = None
) -> list[dict[str, Any]]:
    """Every assignment of one customer or product in every scheme (customer-product schemes
    included), by scheme then ``valid_from``."""
    a = SegmentAssignment
    conditions = []
    if customer_code:
        conditions.append(a.customer_code == customer_code)
    if sku:
        conditions.append(a.sku == sku)
    if not conditions:
        return []
    query = (
        select(
            a.scheme_code,
            SegmentationScheme.name.label("scheme_name"),
            SegmentationScheme.entity,
            a.entity_key,
            a.customer_code,
            a.sku,
            a.segment,
            a.valid_from,
            a.valid_to,
            a.run_id,
            a.source,
            a.reason,
            a.created_by,
        )
        .join(SegmentationScheme, SegmentationScheme.code == a.scheme_code)
        .where(and_(*conditions))
        .order_by(a.scheme_code, a.entity_key, a.valid_from, a.id)
        .limit(5000)
    )
    return [dict(m) for m in (await session.execute(query)).mappings()]


# ---------------------------------------------------------------------------------------------
# Sales vs operations


@dataclass(frozen=True)
class Conflicts:
    scheme: str
    segments: list[SegmentInfo]
    lower_half: list[str]
    top_segment: str | None
    sales_classes: list[str]  # matrix rows: "strategic", then crm tiers, then "(none)"
    matrix: dict[str, dict[str, int]]  # sales class -> segment -> accounts
    totals: dict[str, int]  # under_served / over_served / accounts
    rows: list[dict[str, Any]]  # one page of disagreeing accounts
    next_cursor: str | None
    run_id: uuid.UUID | None  # the run whose ABC/XYZ is shown


TIER_ORDER = ("platinum", "gold", "silver", "bronze")


def _sales_class() -> ColumnElement[str]:
    tier = func.lower(_customers.c.crm_tier)
    return case(
        (_customers.c.strategic.is_(True), literal("strategic")),
        (tier.is_(None), literal("(none)")),
        else_=tier,
    )


def _sort_classes(classes: set[str]) -> list[str]:
    def key(name: str) -> tuple[int, str]:
        if name == "strategic":
            return (0, "")
        if name in TIER_ORDER:
            return (1 + TIER_ORDER.index(name), "")
        return (10 if name != "(none)" else 11, name)

    return sorted(classes, key=key)


def split_ranks(segments: list[SegmentInfo]) -> tuple[str | None, list[str]]:
    """The top-ranked segment and the lower half (see the module docstring)."""
    if not segments:
        return None, []
    n = len(segments)
    lower = [s.code for position, s in enumerate(segments) if n > 1 and position * 2 >= n]
    return segments[0].code, lower


async def conflicts(
    session: AsyncSession,
    scheme_code: str,
    *,
    kind: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Conflicts:
    """Sales view vs operations view of a customer scheme (see the module docstring)."""
    row = await get_scheme(session, scheme_code)
    if row.entity != "customer":
        raise NotACustomerScheme(
            f"scheme '{scheme_code}' classifies {row.entity.replace('_', '-')}s; "
            "sales and operations views are compared for customer schemes only"
        )
    segments = (await segment_catalogue(session, [scheme_code])).get(scheme_code, [])
    top, lower = split_ranks(segments)
    run_id = await latest_run(session, scheme_code)
    a, r = SegmentAssignment, RunResult
    tier = func.lower(_customers.c.crm_tier)
    sales_top = or_(_customers.c.strategic.is_(True), tier.in_(sorted(TOP_CRM_TIERS)))
    sales_low = and_(
        _customers.c.strategic.is_not(True), or_(tier.is_(None), tier.in_(sorted(LOW_CRM_TIERS)))
    )
    under = and_(sales_top, a.segment.in_(lower)) if lower else false()
    over = and_(sales_low, a.segment == top) if top is not None else false()
    kind_col = case((under, literal("under_served")), (over, literal("over_served")), else_=None)
    base = (
        select(a.entity_key)
        .join(_customers, _customers.c.code == a.customer_code)
        .where(a.scheme_code == scheme_code, a.valid_to.is_(None))
    )
    sales = _sales_class().label("sales")
    matrix: dict[str, dict[str, int]] = {}
    counted = await session.execute(
        base.with_only_columns(sales, a.segment, func.count()).group_by(sales, a.segment)
    )
    for sales_name, segment, count in counted.all():
        matrix.setdefault(str(sales_name), {})[str(segment)] = int(count)
    totals_row = (
        await session.execute(
            base.with_only_columns(
                func.count(),
                func.count().filter(under),
                func.count().filter(over),
            )
        )
    ).one()
    totals = {
        "accounts": int(totals_row[0]),
        "under_served": int(totals_row[1]),
        "over_served": int(totals_row[2]),
    }
    wanted = {"under_served": under, "over_served": over}.get(kind or "", or_(under, over))
    listing = (
        base.with_only_columns(
            a.entity_key,
            _customers.c.name,
            _customers.c.strategic,
            _customers.c.crm_tier,
            _customers.c.account_manager_email,
            a.segment,
            a.source,
            a.valid_from,
            r.abc,
            r.xyz,
            kind_col.label("kind"),
        )
        .outerjoin(
            r,
            and_(r.run_id == run_id, r.entity_key == a.entity_key)
            if run_id is not None
            else false(),
        )
        .where(wanted)
    )
    if after:
        listing = listing.where(a.entity_key > after)
    limit = clamp(limit)
    found = [
        dict(m)
        for m in (await session.execute(listing.order_by(a.entity_key).limit(limit + 1))).mappings()
    ]
    more = len(found) > limit
    found = found[:limit]
    return Conflicts(
        scheme=scheme_code,
        segments=segments,
        lower_half=lower,
        top_segment=top,
        sales_classes=_sort_classes(set(matrix)),
        matrix=matrix,
        totals=totals,
        rows=found,
        next_cursor=found[-1]["entity_key"] if more and found else None,
        run_id=run_id,
    )


# ---------------------------------------------------------------------------------------------
# Open customer assignments, for the domains above


@dataclass(frozen=True)
class CustomerSegment:
    """A customer's open assignment in one customer scheme."""

    customer_code: str
    scheme_code: str
    scheme_name: str
    segment: str
    valid_from: datetime


async def open_customer_segments(
    session: AsyncSession, customer_codes: Sequence[str], limit: int
) -> list[CustomerSegment]:
    """Open assignments of ``customer_codes`` in customer schemes, by customer then scheme."""
    if not customer_codes:
        return []
    a = SegmentAssignment
    rows = await session.execute(
        select(a.customer_code, a.scheme_code, SegmentationScheme.name, a.segment, a.valid_from)
        .join(SegmentationScheme, SegmentationScheme.code == a.scheme_code)
        .where(
            a.customer_code.in_(list(customer_codes)),
            a.valid_to.is_(None),
            SegmentationScheme.entity == "customer",
        )
        .order_by(a.customer_code, a.scheme_code)
        .limit(limit)
    )
    return [
        CustomerSegment(str(code), scheme, name, segment, since)
        for code, scheme, name, segment, since in rows.all()
    ]


def open_customer_assignments() -> Subquery:
    """Every open assignment in a customer scheme with the scheme's published version, as a
    relation to join: ``customer_code, scheme_code, scheme_name, segment, valid_from,
    document`` (the version's document, with segment names, ranks and colours). A domain above
    joins its own tables to it, so a page reads assignments and what hangs on them in one
    statement."""
    a = SegmentAssignment
    return (
        select(
            a.customer_code,
            a.scheme_code,
            SegmentationScheme.name.label("scheme_name"),
            a.segment,
            a.valid_from,
            SchemeVersion.document,
        )
        .join(SegmentationScheme, SegmentationScheme.code == a.scheme_code)
        .join(
            SchemeVersion,
            (SchemeVersion.scheme_code == SegmentationScheme.code)
            & (SchemeVersion.version == SegmentationScheme.published_version),
        )
        .where(a.valid_to.is_(None), SegmentationScheme.entity == "customer")
        .subquery("open_customer_assignments")
    )


def customers_in_segment(scheme_code: str, segment: str) -> Subquery:
    """The customers whose open assignment in ``scheme_code`` is ``segment``, as a relation
    (``customer_code``) to join."""
    a = SegmentAssignment
    return (
        select(a.customer_code)
        .where(a.scheme_code == scheme_code, a.segment == segment, a.valid_to.is_(None))
        .subquery("customers_in_segment")
    )


async def customer_codes_in_segment(
    session: AsyncSession, scheme_code: str, segment: str, limit: int | None = None
) -> list[str]:
    """Customers whose open assignment in ``scheme_code`` is ``segment``, by code."""
    a = SegmentAssignment
    query = (
        select(a.customer_code)
        .where(
            a.scheme_code == scheme_code,
            a.segment == segment,
            a.valid_to.is_(None),
            a.customer_code.is_not(None),
        )
        .order_by(a.customer_code)
    )
    if limit is not None:
        query = query.limit(limit)
    return [str(code) for code in (await session.execute(query)).scalars()]


async def customer_segment_history(conn: AsyncConnection, scheme_code: str) -> pl.DataFrame:
    """Every assignment of one customer scheme, past and present, as a frame for temporal
    joins (the segment a customer was in on an order's date): ``customer_code``, ``segment``,
    ``valid_from``, ``valid_to`` (UTC timestamps; ``valid_to`` null while in force), ``source``,
    sorted by customer and start. Read with COPY: a scheme's history may be millions of rows."""
    sql = (
        "SELECT customer_code, segment, valid_from, valid_to, source FROM segment_assignments "
        "WHERE scheme_code = $1 AND customer_code IS NOT NULL ORDER BY customer_code, valid_from"
    )
    schema = {
        "customer_code": pl.String,
        "segment": pl.String,
        "valid_from": pl.String,
        "valid_to": pl.String,
        "source": pl.String,
    }
    frame = await read_frame(conn, sql, schema, scheme_code)
    stamp = pl.Datetime("us", "UTC")
    return frame.with_columns(
        pl.col("valid_from").str.to_datetime(time_zone="UTC").cast(stamp),
        pl.col("valid_to").str.to_datetime(time_zone="UTC").cast(stamp),
    )


async def first_assignment_at(conn: AsyncConnection, scheme_code: str) -> datetime | None:
    """When the scheme's oldest assignment starts (None before its first run)."""
    value = (
        await conn.execute(
            select(func.min(SegmentAssignment.valid_from)).where(
                SegmentAssignment.scheme_code == scheme_code
            )
        )
    ).scalar()
    return value if isinstance(value, datetime) else None


async def entity_histories(
    session: AsyncSession, scheme_entities: Sequence[tuple[str, str]]
) -> pl.DataFrame:
    """Every assignment, past and present, of the given ``(scheme_code, entity_key)`` pairs (a
    page of moves, say): ``scheme_code, entity_key, segment, valid_from`` (UTC), by entity
    then start."""
    schema: dict[str, Any] = {
        "scheme_code": pl.String,
        "entity_key": pl.String,
        "segment": pl.String,
        "valid_from": pl.Datetime("us", "UTC"),
    }
    if not scheme_entities:
        return pl.DataFrame(schema=schema)
    a = SegmentAssignment
    wanted = [and_(a.scheme_code == s, a.entity_key == e) for s, e in set(scheme_entities)]
    rows = await session.execute(
        select(a.scheme_code, a.entity_key, a.segment, a.valid_from)
        .where(or_(*wanted))
        .order_by(a.scheme_code, a.entity_key, a.valid_from)
    )
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
