"""Data freshness and data quality: can a segmentation run trust the data it is about to use?

Two halves:

- **Feeds** (``feeds`` table, written by every successful import): a feed is *stale* when its
  last successful load, or the newest source timestamp it brought, is older than its staleness
  threshold, and *never* when it has not loaded yet. The segmentation inputs (customers,
  products, order lines) are always listed: an entity nobody ever loaded shows as a ``never``
  feed ``<entity>:erp``, so a run cannot silently classify on nothing. ``stale_feeds`` is what
  segmentation runs ask before they start.
- **Findings**: estimated margins, implausible values and missing attributes, counted where the
  data lives. Plain columns are aggregated in SQL; revenue and margin are ciphertext, so they
  are decrypted inside the server in keyset batches over ``order_lines.id`` (memory bounded by
  one batch) and reduced with numpy and polars; the only per-row Python work is spelling the
  row keys the codec authenticates against. A report carries counts, shares and at most
  ``EXAMPLES`` example keys per finding (codes and order keys, never money); masking the money
  shares for readers without ``margin:read`` is the caller's job (the numbers are computed
  either way because the integrity and plausibility checks need the plaintext).

Row-level scope: with ``scopes`` given, customers and products are limited to those scopes and
order lines to the lines of customers in them (the account owns its order history, as on the
customer page).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import ColumnElement, FromClause, Select, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.browse import Scopes, scope_condition
from tierline.masterdata.models import Customer, Feed, OrderLine, Product
from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.encryption import FieldCodec
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import User
from tierline.platform.identity.users import Actor

FeedStatusName = Literal["fresh", "stale", "never"]

MIN_STALENESS_HOURS = 1
DEFAULT_STALENESS_HOURS = 24  # the column's default
MAX_STALENESS_HOURS = 2160  # 90 days: beyond that a feed is not monitored, it is forgotten
EXAMPLES = 20
BATCH_SIZE = 200_000
# The entities every segmentation run reads; they are listed even before their first load.
SEGMENTATION_ENTITIES = ("customers", "products", "order_lines")
PLACEHOLDER_SOURCE = "erp"
OVER_DELIVERY = Decimal("1.5")  # exact: the quantities are NUMERIC
# The same tolerance the import applies, so a line the import would accept is not flagged.
MARGIN_TOLERANCE = 1.0001

_CUSTOMERS = Customer.__table__
_PRODUCTS = Product.__table__
_LINES = OrderLine.__table__


# ---------------------------------------------------------------------------------------------
# Feeds


@dataclass(frozen=True)
class FeedState:
    """One feed as the data-quality page and segmentation runs see it."""

    name: str
    entity: str
    source_system: str
    last_success_at: datetime | None
    newest_source_at: datetime | None
    staleness_hours: int
    steward_email: str | None
    status: FeedStatusName
    reason: str | None = None  # why it is stale or never loaded; None when fresh
    placeholder: bool = False  # no row yet: an expected feed that has never loaded


class FeedNotFound(DomainError):
    status_code = 404
    title = "Not Found"


class InvalidFeedSettings(DomainError):
    """One message per field (``staleness_hours``, ``steward_email``), all found at once."""

    status_code = 422
    title = "Invalid feed settings"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def classify_feed(
    last_success_at: datetime | None,
    newest_source_at: datetime | None,
    staleness_hours: int,
    now: datetime,
) -> tuple[FeedStatusName, str | None]:
    """Status and the reason for it.

    Both clocks count: a feed that loads every hour but keeps sending last month's extract is
    as stale as one that stopped loading. A feed without source timestamps is judged by its
    loads alone.
    """
    if last_success_at is None:
        return "never", "never loaded successfully"
    limit = timedelta(hours=staleness_hours)
    reasons = []
    if now - last_success_at > limit:
        reasons.append(f"last successful load {_age(now - last_success_at)} ago")
    if newest_source_at is not None and now - newest_source_at > limit:
        reasons.append(f"newest source record is {_age(now - newest_source_at)} old")
    if reasons:
        return "stale", f"{'; '.join(reasons)} (threshold {staleness_hours} h)"
    return "fresh", None


def _feed_state(row: Any, now: datetime, placeholder: bool = False) -> FeedState:
    status, reason = classify_feed(
        row.last_success_at, row.newest_source_at, row.staleness_hours, now
    )
    return FeedState(
        row.name,
        row.entity,
        row.source_system,
        row.last_success_at,
        row.newest_source_at,
        row.staleness_hours,
        row.steward_email,
        status,
        reason,
        placeholder,
    )


def _placeholder_row(entity: str) -> Feed:
    return Feed(
        name=f"{entity}:{PLACEHOLDER_SOURCE}",
        entity=entity,
        source_system=PLACEHOLDER_SOURCE,
        last_success_at=None,
        newest_source_at=None,
        staleness_hours=DEFAULT_STALENESS_HOURS,
        steward_email=None,
    )


def _placeholders(loaded_entities: set[str]) -> dict[str, Feed]:
    """Expected feeds of segmentation inputs that no feed row covers yet, by name."""
    rows = [_placeholder_row(e) for e in SEGMENTATION_ENTITIES if e not in loaded_entities]
    return {r.name: r for r in rows}


async def _feed_rows(session: AsyncSession) -> list[Any]:
    # Core rows, not ORM objects: a read must not park feeds in the session's identity map.
    columns = [getattr(Feed, c) for c in _FEED_COLUMNS]
    return list(await session.execute(select(*columns)))


_FEED_COLUMNS = (
    "name",
    "entity",
    "source_system",
    "last_success_at",
    "newest_source_at",
    "staleness_hours",
    "steward_email",
)


def _entity_order(state: FeedState) -> tuple[int, str, str]:
    rank = (
        SEGMENTATION_ENTITIES.index(state.entity)
        if state.entity in SEGMENTATION_ENTITIES
        else len(SEGMENTATION_ENTITIES)
    )
    return rank, state.entity, state.name


async def feed_status(session: AsyncSession, now: datetime) -> list[FeedState]:
    """Every feed of the tenant with its status at ``now``: segmentation inputs first."""
    rows = await _feed_rows(session)
    states = [_feed_state(r, now) for r in rows]
    missing = _placeholders({r.entity for r in rows})
    states += [_feed_state(r, now, placeholder=True) for r in missing.values()]
    return sorted(states, key=_entity_order)


async def stale_feeds(
    session: AsyncSession, now: datetime, entities: Collection[str] | None = None
) -> list[FeedState]:
    """Feeds that are not fresh (stale or never loaded), optionally only of ``entities``: what
    a segmentation run refuses to start on, or warns about.

    Tenant-wide on purpose: a run classifies the whole tenant, whoever starts it.
    """
    return [
        f
        for f in await feed_status(session, now)
        if f.status != "fresh" and (entities is None or f.entity in entities)
    ]


def parse_staleness_hours(raw: int | str) -> tuple[int | None, str | None]:
    """The threshold in whole hours, or the message saying what is wrong with it."""
    try:
        hours = int(str(raw).strip())
    except ValueError:
        return None, "enter a whole number of hours"
    if not MIN_STALENESS_HOURS <= hours <= MAX_STALENESS_HOURS:
        return None, (
            f"must be between {MIN_STALENESS_HOURS} and {MAX_STALENESS_HOURS} hours (90 days)"
        )
    return hours, None


async def check_steward(session: AsyncSession, raw: str | None) -> tuple[str | None, str | None]:
    """The steward's stored e-mail (``None`` for "no steward"), or the message for the form.

    A steward must be someone who can act on the alert: an active staff user of this tenant,
    not a portal (customer) user, an invitation never accepted, or a disabled account.
    """
    wanted = (raw or "").strip().lower()
    if not wanted:
        return None, None
    if len(wanted) > 320:
        return None, "an e-mail address has at most 320 characters"
    found = await session.scalar(
        select(User.email).where(
            User.email == wanted, User.kind == "staff", User.status == "active"
        )
    )
    if found is None:
        return None, "no active staff user of this tenant has this e-mail address"
    return str(found), None


async def _placeholder_for(session: AsyncSession, name: str) -> Feed | None:
    """Which feed ``name`` is: None for an existing row, the placeholder for an expected feed
    that never loaded; ``FeedNotFound`` for anything else. Reads only."""
    rows = await _feed_rows(session)
    if name in {r.name for r in rows}:
        return None
    placeholder = _placeholders({r.entity for r in rows}).get(name)
    if placeholder is None:
        raise FeedNotFound(f"no feed named {name!r}")
    return placeholder


async def _locked_feed(session: AsyncSession, name: str, placeholder: Feed | None) -> Feed:
    """The feed row, locked for the change; an expected feed that never loaded gets its row
    (which the first import then fills in, keeping the settings)."""
    if placeholder is not None:
        # ON CONFLICT: an import may create the row between our read and this insert.
        await session.execute(
            pg_insert(Feed)
            .values(
                name=placeholder.name,
                entity=placeholder.entity,
                source_system=placeholder.source_system,
                staleness_hours=placeholder.staleness_hours,
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
    feed = await session.scalar(select(Feed).where(Feed.name == name).with_for_update())
    if feed is None:  # removed between the read and the lock
        raise FeedNotFound(f"no feed named {name!r}")
    return feed


async def update_feed_settings(
    session: AsyncSession,
    name: str,
    staleness_hours: int | str,
    steward_email: str | None,
    actor: Actor,
) -> FeedState:
    """Set a feed's staleness threshold and steward, audited as ``feeds.configure``.

    Raises ``FeedNotFound`` (unknown feed) or ``InvalidFeedSettings`` (every field problem at
    once). Saving the same values again writes nothing and logs nothing.
    """
    hours, hours_error = parse_staleness_hours(staleness_hours)
    email, email_error = await check_steward(session, steward_email)
    errors = {
        k: v for k, v in (("staleness_hours", hours_error), ("steward_email", email_error)) if v
    }
    # Unknown feed first (404 whatever was typed), then the fields; nothing is written
    # before both pass, so a refused change leaves no trace even if the caller commits.
    placeholder = await _placeholder_for(session, name)
    if errors or hours is None:
        raise InvalidFeedSettings(errors)
    feed = await _locked_feed(session, name, placeholder)
    before = {"staleness_hours": feed.staleness_hours, "steward_email": feed.steward_email}
    after = {"staleness_hours": hours, "steward_email": email}
    if before != after:
        feed.staleness_hours, feed.steward_email = hours, email
        await session.flush()
        await record(
            session,
            actor=actor.name,
            actor_kind=actor.kind,
            action="feeds.configure",
            object_type="feed",
            object_id=name,
            before=before,
            after=after,
            request_id=actor.request_id,
            client_ip=actor.client_ip,
        )
    return _feed_state(feed, utcnow())


# ---------------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Example:
    """A row a finding points at: its key, and the customer and product pages to open."""

    key: str  # customer code, SKU, or "order_no/line_no"
    customer_code: str | None = None
    sku: str | None = None


@dataclass(frozen=True)
class Finding:
    """Rows of one entity failing one check: how many, out of how many, and a few of them."""

    key: str  # stable identifier, e.g. "margin_above_revenue"
    label: str
    entity: str
    count: int
    total: int  # rows the check looked at (the share's denominator)
    examples: tuple[Example, ...] = ()

    @property
    def share(self) -> float | None:
        return self.count / self.total if self.total else None


@dataclass(frozen=True)
class EstimatedMargins:
    """Order lines of one product line (and currency) whose margin is an estimate."""

    product_line: str | None
    currency: str | None
    lines: int
    estimated: int
    # Share of revenue (absolute values, so a credit note counts by its size) on estimated
    # lines; None when no line carries a readable revenue. Money: mask it for the reader.
    revenue_share: float | None

    @property
    def share(self) -> float | None:
        return self.estimated / self.lines if self.lines else None


@dataclass(frozen=True)
class QualityReport:
    generated_at: datetime
    feeds: list[FeedState]
    order_lines: int
    estimated: list[EstimatedMargins]
    implausible: list[Finding]
    missing: list[Finding]

    @property
    def stale(self) -> list[FeedState]:
        return [f for f in self.feeds if f.status != "fresh"]

    @property
    def estimated_lines(self) -> int:
        return sum(e.estimated for e in self.estimated)


@dataclass(frozen=True)
class _Check:
    key: str
    label: str
    condition: ColumnElement[bool]
    population: ColumnElement[bool] | None = None  # the rows the share is over; None: all


def _blank(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Missing: NULL, or only spaces (older loads wrote empty strings)."""
    return or_(column.is_(None), func.btrim(column) == "")


def _customer_checks() -> list[_Check]:
    c = _CUSTOMERS.c
    return [
        _Check("region", "Region", _blank(c.region)),
        _Check("country", "Country", _blank(c.country)),
        _Check("channel", "Channel", _blank(c.channel)),
        _Check("account_manager_email", "Account manager", _blank(c.account_manager_email)),
        _Check("business_unit", "Business unit", _blank(c.business_unit)),
    ]


def _product_checks() -> list[_Check]:
    p = _PRODUCTS.c
    npi = p.lifecycle == "npi"
    return [
        _Check("product_line", "Product line", _blank(p.product_line)),
        _Check("category", "Category", _blank(p.category)),
        _Check("lifecycle", "Lifecycle", _blank(p.lifecycle)),
        # A launch date only matters where segmentation treats a product as new (NPI).
        _Check("launch_date", "Launch date (NPI products)", p.launch_date.is_(None) & npi, npi),
    ]


def _line_checks() -> list[_Check]:
    ol = _LINES.c
    return [
        _Check(
            "negative_quantity",
            "Negative quantity",
            or_(ol.quantity < 0, ol.ordered_quantity < 0, ol.delivered_quantity < 0),
        ),
        _Check(
            "over_delivered",
            f"Delivered more than {OVER_DELIVERY * 100:.0f}% of the ordered quantity",
            ol.delivered_quantity > ol.quantity * OVER_DELIVERY,
        ),
        _Check(
            "delivered_before_order",
            "Delivered before it was ordered",
            ol.delivered_date < ol.order_date,
        ),
    ]


def _line_scope(scopes: Scopes) -> list[ColumnElement[bool]]:
    """Order lines of customers in ``scopes`` (all lines when ``scopes`` is None)."""
    if scopes is None:
        return []
    if not scopes:
        return [false()]
    in_scope = select(_CUSTOMERS.c.code).where(*scope_condition(_CUSTOMERS, scopes))
    return [_LINES.c.customer_code.in_(in_scope)]


async def _counts(
    session: AsyncSession,
    table: FromClause,
    conditions: Sequence[ColumnElement[bool] | None],
    where: Sequence[ColumnElement[bool]],
) -> list[int]:
    """``count(*) FILTER (WHERE c)`` for every condition (None: every row), in one pass."""
    columns = [func.count() if c is None else func.count().filter(c) for c in conditions]
    stmt = select(*columns).select_from(table).where(*where)
    return [int(v) for v in (await session.execute(stmt)).one()]


def _example_of(table: FromClause, row: Any) -> Example:
    if table is _CUSTOMERS:
        return Example(row.code, customer_code=row.code)
    if table is _PRODUCTS:
        return Example(row.sku, sku=row.sku)
    return Example(f"{row.order_no}/{row.line_no}", row.customer_code, row.sku)


def _example_query(table: FromClause) -> Select[Any]:
    if table is _CUSTOMERS:
        return select(table.c.code).order_by(table.c.code)
    if table is _PRODUCTS:
        return select(table.c.sku).order_by(table.c.sku)
    c = table.c
    return select(c.order_no, c.line_no, c.customer_code, c.sku).order_by(c.id)


async def _examples(
    session: AsyncSession,
    table: FromClause,
    condition: ColumnElement[bool],
    where: Sequence[ColumnElement[bool]],
) -> tuple[Example, ...]:
    stmt = _example_query(table).where(condition, *where).limit(EXAMPLES)
    return tuple(_example_of(table, r) for r in await session.execute(stmt))


async def _run_checks(
    session: AsyncSession,
    table: FromClause,
    entity: str,
    checks: Sequence[_Check],
    where: Sequence[ColumnElement[bool]],
) -> list[Finding]:
    """Counts of every check in one aggregate query, then examples for those that hit."""
    with_population = [c for c in checks if c.population is not None]
    counts = await _counts(
        session,
        table,
        [None, *[c.population for c in with_population], *[c.condition for c in checks]],
        where,
    )
    total, sizes = counts[0], counts[1 : 1 + len(with_population)]
    size_of = {c.key: size for c, size in zip(with_population, sizes, strict=True)}
    found = []
    for check, count in zip(checks, counts[1 + len(with_population) :], strict=True):
        examples = await _examples(session, table, check.condition, where) if count else ()
        found.append(
            Finding(check.key, check.label, entity, count, size_of.get(check.key, total), examples)
        )
    return found


# ---------------------------------------------------------------------------------------------
# The money pass: encrypted revenue and margin, decrypted in batches


@dataclass
class _MoneyTally:
    """What the batches add up to; small whatever the number of lines."""

    groups: list[pl.DataFrame] = field(default_factory=list)
    margin_above: int = 0
    unreadable: int = 0
    margin_above_ids: list[int] = field(default_factory=list)
    unreadable_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _BatchResult:
    groups: pl.DataFrame
    margin_above: int
    unreadable: int
    margin_above_ids: list[int]
    unreadable_ids: list[int]


def _stored(blobs: Sequence[bytes | None]) -> npt.NDArray[np.bool_]:
    return np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))


def _tally_batch(codec: FieldCodec, rows: Sequence[Any]) -> _BatchResult:
    """Decrypt one batch and reduce it (CPU work; runs in a worker thread)."""
    ids, order_nos, line_nos, estimated, product_lines, currencies, revenue_enc, margin_enc = zip(
        *rows, strict=True
    )
    keys = [f"{o}/{n}" for o, n in zip(order_nos, line_nos, strict=True)]
    # "mark": a value that fails to authenticate becomes NaN and is counted, never a crash.
    revenue = codec.decrypt_floats(
        revenue_enc, table="order_lines", column="revenue", row_keys=keys, on_error="mark"
    )
    margin = codec.decrypt_floats(
        margin_enc, table="order_lines", column="margin", row_keys=keys, on_error="mark"
    )
    # NaN although a ciphertext was stored: it did not open for this cell.
    bad = (_stored(revenue_enc) & np.isnan(revenue)) | (_stored(margin_enc) & np.isnan(margin))
    with np.errstate(invalid="ignore"):  # NaN compares False, which is what we want
        above = margin > np.abs(revenue) * MARGIN_TOLERANCE
    id_array = np.fromiter(ids, dtype=np.int64, count=len(ids))
    frame = pl.DataFrame(
        {
            "product_line": pl.Series(product_lines, dtype=pl.String),
            "currency": pl.Series(currencies, dtype=pl.String),
            "estimated": pl.Series(estimated, dtype=pl.Boolean),
            "revenue": pl.Series(np.abs(revenue)).fill_nan(None),
        }
    )
    groups = frame.group_by("product_line", "currency").agg(
        pl.len().alias("lines"),
        pl.col("estimated").sum().alias("estimated"),
        pl.col("revenue").sum().alias("revenue"),
        pl.col("revenue").filter(pl.col("estimated")).sum().alias("estimated_revenue"),
        pl.col("revenue").is_not_null().sum().alias("with_revenue"),
    )
    return _BatchResult(
        groups,
        int(above.sum()),
        int(bad.sum()),
        id_array[above][:EXAMPLES].tolist(),
        id_array[bad][:EXAMPLES].tolist(),
    )


def _add(tally: _MoneyTally, batch: _BatchResult) -> None:
    tally.groups.append(batch.groups)
    tally.margin_above += batch.margin_above
    tally.unreadable += batch.unreadable
    tally.margin_above_ids = (tally.margin_above_ids + batch.margin_above_ids)[:EXAMPLES]
    tally.unreadable_ids = (tally.unreadable_ids + batch.unreadable_ids)[:EXAMPLES]


def _batch_query(after: int, scope: Sequence[ColumnElement[bool]]) -> Select[Any]:
    ol, p = _LINES.c, _PRODUCTS.c
    return (
        select(
            ol.id,
            ol.order_no,
            ol.line_no,
            ol.margin_estimated,
            p.product_line,
            ol.currency,
            ol.revenue_enc,
            ol.margin_enc,
        )
        .select_from(_LINES.outerjoin(_PRODUCTS, p.sku == ol.sku))
        .where(ol.id > after, *scope)
        .order_by(ol.id)
        .limit(BATCH_SIZE)
    )


async def _money_pass(
    session: AsyncSession, codec: FieldCodec, scope: Sequence[ColumnElement[bool]]
) -> _MoneyTally:
    """Keyset batches over ``order_lines.id``: memory stays bounded by one batch, and each
    batch is a short index range scan however deep into the table it is."""
    tally, after = _MoneyTally(), 0
    while True:
        rows = list(await session.execute(_batch_query(after, scope)))
        if not rows:
            return tally
        # Hundreds of thousands of AES-GCM opens: off the event loop, so requests keep flowing.
        _add(tally, await asyncio.to_thread(_tally_batch, codec, rows))
        if len(rows) < BATCH_SIZE:
            return tally
        after = int(rows[-1].id)


def _estimated_rows(groups: list[pl.DataFrame]) -> list[EstimatedMargins]:
    if not groups:
        return []
    merged = (
        pl.concat(groups)
        .group_by("product_line", "currency")
        .agg(pl.all().sum())
        .sort("product_line", "currency", nulls_last=True)
    )
    return [
        EstimatedMargins(
            r["product_line"],
            r["currency"],
            int(r["lines"]),
            int(r["estimated"]),
            (r["estimated_revenue"] or 0.0) / r["revenue"]
            if r["with_revenue"] and r["revenue"]
            else None,
        )
        for r in merged.iter_rows(named=True)
    ]


async def _examples_by_id(session: AsyncSession, ids: Sequence[int]) -> tuple[Example, ...]:
    if not ids:
        return ()
    c = _LINES.c
    stmt = select(c.order_no, c.line_no, c.customer_code, c.sku).where(c.id.in_(ids))
    rows = list(await session.execute(stmt.order_by(c.id)))
    return tuple(_example_of(_LINES, r) for r in rows)


async def _money_findings(session: AsyncSession, tally: _MoneyTally, total: int) -> list[Finding]:
    return [
        Finding(
            "unreadable",
            "Revenue or margin fails its integrity check (altered or copied ciphertext)",
            "order_lines",
            tally.unreadable,
            total,
            await _examples_by_id(session, tally.unreadable_ids),
        ),
        Finding(
            "margin_above_revenue",
            "Margin above revenue",
            "order_lines",
            tally.margin_above,
            total,
            await _examples_by_id(session, tally.margin_above_ids),
        ),
    ]


async def quality_report(
    session: AsyncSession, codec: FieldCodec, now: datetime, scopes: Scopes = None
) -> QualityReport:
    """Feeds and every finding, for the rows ``scopes`` covers (None: the whole tenant)."""
    line_scope = _line_scope(scopes)
    tally = await _money_pass(session, codec, line_scope)
    line_findings = await _run_checks(session, _LINES, "order_lines", _line_checks(), line_scope)
    total = line_findings[0].total if line_findings else 0
    missing = await _run_checks(
        session,
        _CUSTOMERS,
        "customers",
        _customer_checks(),
        scope_condition(_CUSTOMERS, scopes),
    ) + await _run_checks(
        session, _PRODUCTS, "products", _product_checks(), scope_condition(_PRODUCTS, scopes)
    )
    return QualityReport(
        generated_at=now,
        feeds=await feed_status(session, now),
        order_lines=total,
        estimated=_estimated_rows(tally.groups),
        implausible=await _money_findings(session, tally, total) + line_findings,
        missing=missing,
    )
