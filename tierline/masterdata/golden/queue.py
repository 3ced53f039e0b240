"""The data steward's queue: open reviews, oldest first, each source record beside its
candidate golden row with the differing fields marked; limited to the steward's scopes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.golden.models import MatchReview
from tierline.masterdata.golden.rules import (
    BY_ENTITY,
    CUSTOMERS,
    PRODUCTS,
    GoldenSpec,
    golden_table,
)
from tierline.masterdata.models import Customer, CustomerSource, Product, ProductSource


@dataclass(frozen=True)
class FieldPair:
    name: str
    source: str
    golden: str
    differs: bool


@dataclass(frozen=True)
class ReviewView:
    id: int
    entity: str
    source_system: str
    source_key: str
    candidate_code: str
    score: float
    reasons: list[str]
    created_at: datetime
    fields: list[FieldPair]
    candidate_missing: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[ReviewView]
    total: int
    page: int
    size: int
    source_systems: list[str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def shown(value: Any) -> str:
    """How a value is compared and shown: empty for missing, JSON-ish for mappings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={shown(v)}" for k, v in sorted(value.items()))
    return str(value)


def compare(
    spec: GoldenSpec, record: Mapping[str, Any], golden: Mapping[str, Any]
) -> list[FieldPair]:
    pairs = []
    for name in spec.display:
        left, right = shown(record.get(name)), shown(golden.get(name))
        differs = left.strip().casefold() != right.strip().casefold()
        pairs.append(FieldPair(name, left, right, differs))
    return pairs


def _queue_filter(
    entity: str | None, source_system: str | None, scopes: frozenset[str] | None
) -> tuple[Any, list[Any]]:
    scope = func.coalesce(Customer.scope, Product.scope)
    joined = MatchReview.__table__.outerjoin(
        Customer.__table__,
        and_(MatchReview.entity == "customer", Customer.code == MatchReview.candidate_code),
    ).outerjoin(
        Product.__table__,
        and_(MatchReview.entity == "product", Product.sku == MatchReview.candidate_code),
    )
    where: list[Any] = [MatchReview.status == "open"]
    if entity:
        where.append(MatchReview.entity == entity)
    if source_system:
        where.append(MatchReview.source_system == source_system)
    if scopes is not None:
        where.append(scope.in_(sorted(scopes)))
    return joined, where


async def _records(
    conn: AsyncConnection, spec: GoldenSpec, reviews: Sequence[MatchReview | Any]
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, dict[str, Any]]]:
    mine = [r for r in reviews if r.entity == spec.entity]
    if not mine:
        return {}, {}
    source = CustomerSource if spec.entity == "customer" else ProductSource
    pairs = [(r.source_system, r.source_key) for r in mine]
    found = await conn.execute(
        select(source.source_system, source.source_key, source.record).where(
            tuple_(source.source_system, source.source_key).in_(pairs)
        )
    )
    records = {(r[0], r[1]): dict(r[2] or {}) for r in found}
    table = golden_table(spec)
    codes = sorted({r.candidate_code for r in mine})
    rows = (await conn.execute(select(table).where(table.c[spec.key].in_(codes)))).mappings()
    golden = {str(r[spec.key]): dict(r) for r in rows}
    return records, golden


async def _views(conn: AsyncConnection, reviews: Sequence[Any]) -> list[ReviewView]:
    """The reviews with their source record and candidate golden row side by side."""
    views: list[ReviewView] = []
    loaded = {s.entity: await _records(conn, s, reviews) for s in (CUSTOMERS, PRODUCTS)}
    for r in reviews:
        spec = BY_ENTITY[r.entity]
        records, golden = loaded[r.entity]
        candidate = golden.get(r.candidate_code)
        fields = compare(spec, records.get((r.source_system, r.source_key), {}), candidate or {})
        views.append(
            ReviewView(
                r.id,
                r.entity,
                r.source_system,
                r.source_key,
                r.candidate_code,
                r.score,
                list(r.reasons or []),
                r.created_at,
                fields,
                candidate is None,
            )
        )
    return views


async def open_reviews(
    conn: AsyncConnection,
    *,
    entity: str | None = None,
    source_system: str | None = None,
    scopes: frozenset[str] | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[ReviewView], int | None]:
    """Open reviews in the order they were queued (by id), from after ``after``; with the id
    to continue after when there are more."""
    joined, where = _queue_filter(entity, source_system, scopes)
    if after is not None:
        where.append(MatchReview.id > after)
    reviews = list(
        await conn.execute(
            select(MatchReview.__table__)
            .select_from(joined)
            .where(*where)
            .order_by(MatchReview.id)
            .limit(limit + 1)
        )
    )
    more = len(reviews) > limit
    views = await _views(conn, reviews[:limit])
    return views, (views[-1].id if more and views else None)


async def queue_page(
    conn: AsyncConnection,
    *,
    entity: str | None = None,
    source_system: str | None = None,
    scopes: frozenset[str] | None = None,
    page: int = 1,
    size: int = 20,
) -> QueuePage:
    """Open reviews, oldest first, with the source record and the candidate side by side."""
    joined, where = _queue_filter(entity, source_system, scopes)
    total = int(
        (await conn.execute(select(func.count()).select_from(joined).where(*where))).scalar() or 0
    )
    page = min(max(page, 1), max(1, -(-total // size)))
    reviews = list(
        await conn.execute(
            select(MatchReview.__table__)
            .select_from(joined)
            .where(*where)
            .order_by(MatchReview.created_at, MatchReview.id)
            .limit(size)
            .offset((page - 1) * size)
        )
    )
    views = await _views(conn, reviews)
    systems = await conn.execute(
        select(MatchReview.source_system)
        .where(MatchReview.status == "open")
        .distinct()
        .order_by(MatchReview.source_system)
    )
    return QueuePage(views, total, page, size, [str(s[0]) for s in systems])
