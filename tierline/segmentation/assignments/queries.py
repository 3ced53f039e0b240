"""The read side of segmentation, and the decision on pending moves.

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

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    and_,
    case,
    column,
    false,
    func,
    literal,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.notifications.service import notify_many
from tierline.segmentation.models import (
    PendingMove,
    RunResult,
    SchemeVersion,
    SegmentAssignment,
    SegmentationRun,
    SegmentationScheme,
)
from tierline.segmentation.schemes.store import get_scheme

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_DECISION = 1000  # moves decided in one request
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


class MovesRefused(DomainError):
    status_code = 409
    title = "Decision refused"


class MovesForbidden(DomainError):
    status_code = 403
    title = "Decision not allowed"


class MovesNotFound(DomainError):
    status_code = 404
    title = "Not Found"


class NotACustomerScheme(DomainError):
    status_code = 409
    title = "Not a customer scheme"


def clamp(limit: int | None, default: int = DEFAULT_LIMIT) -> int:
    return max(1, min(MAX_LIMIT, limit or default))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------------------------
# Segment catalogue (names, ranks, colours of the version in force)


@dataclass(frozen=True)
class SegmentInfo:
    code: str
    name: str
    rank: int
    colour: str | None


async def segment_catalogue(
    session: AsyncSession, codes: Sequence[str] | None = None
) -> dict[str, list[SegmentInfo]]:
    """Scheme code -> its segments in rank order, from the published version (if any)."""
    query = select(SchemeVersion.scheme_code, SchemeVersion.document).join(
        SegmentationScheme,
        and_(
            SegmentationScheme.code == SchemeVersion.scheme_code,
            SegmentationScheme.published_version == SchemeVersion.version,
        ),
    )
    if codes is not None:
        query = query.where(SchemeVersion.scheme_code.in_(list(codes)))
    found: dict[str, list[SegmentInfo]] = {}
    for code, document in (await session.execute(query)).all():
        segments = [
            SegmentInfo(s["code"], s["name"], int(s["rank"]), s.get("colour"))
            for s in document.get("segments", [])
        ]
        found[code] = sorted(segments, key=lambda s: (s.rank, s.code))
    return found


# ---------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class RunPage:
    rows: list[SegmentationRun]
    next_before: str | None  # pass as ``before`` for older runs


def _run_cursor(row: SegmentationRun) -> str:
    raw = f"{row.started_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_run_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, key = raw.split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("before: not a cursor this API returned") from None


class InvalidCursor(DomainError):
    status_code = 422
    title = "Invalid cursor"


async def list_runs(
    session: AsyncSession,
    scheme_code: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> RunPage:
    """Runs, newest first."""
    limit = clamp(limit, 50)
    query = select(SegmentationRun)
    if scheme_code:
        query = query.where(SegmentationRun.scheme_code == scheme_code)
    if before:
        stamp, key = _decode_run_cursor(before)
        query = query.where(
            or_(
                SegmentationRun.started_at < stamp,
                and_(SegmentationRun.started_at == stamp, SegmentationRun.id < key),
            )
        )
    query = query.order_by(SegmentationRun.started_at.desc(), SegmentationRun.id.desc())
    rows = list((await session.execute(query.limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return RunPage(rows, _run_cursor(rows[-1]) if more and rows else None)


@dataclass(frozen=True)
class RunDetail:
    run: SegmentationRun
    results: list[dict[str, Any]]  # one page of run_results (filtered by outcome)
    next_after: str | None  # entity_key to pass as ``after``
    moves: list[dict[str, Any]] = field(default_factory=list)  # from -> to counts


def as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def run_detail(
    session: AsyncSession,
    run_id: str | uuid.UUID,
    *,
    outcome: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunDetail | None:
    """A run, its move matrix and one page of its results; None when there is no such run.

    Without ``outcome`` the page lists the entities whose segment changed or may change (every
    outcome but ``unchanged``); ``outcome="all"`` lists every result."""
    key = as_uuid(run_id)
    if key is None:
        return None
    run = await session.get(SegmentationRun, key)
    if run is None:
        return None
    limit = clamp(limit)
    r = RunResult
    query = select(
        r.entity_key,
        r.segment,
        r.previous_segment,
        r.outcome,
        r.abc,
        r.xyz,
        r.cum_share,
        r.cv,
        r.source,
        r.rule,
    ).where(r.run_id == key)
    if outcome and outcome != "all":
        query = query.where(r.outcome == outcome)
    elif not outcome:
        query = query.where(r.outcome != "unchanged")
    if after:
        query = query.where(r.entity_key > after)
    rows = [
        dict(m)
        for m in (await session.execute(query.order_by(r.entity_key).limit(limit + 1))).mappings()
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    matrix = await session.execute(
        select(r.previous_segment, r.segment, func.count())
        .where(
            r.run_id == key,
            r.previous_segment.is_not(None),
            r.previous_segment != r.segment,
        )
        .group_by(r.previous_segment, r.segment)
        .order_by(func.count().desc())
    )
    moves = [{"from_segment": a, "to_segment": b, "count": n} for a, b, n in matrix.all()]
    return RunDetail(run, rows, rows[-1]["entity_key"] if more and rows else None, moves)


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
        query = query.where(a.entity_key.like(_escape_like(entity) + "%", escape="\\"))
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


async def _latest_run(session: AsyncSession, scheme_code: str) -> uuid.UUID | None:
    found: uuid.UUID | None = (
        await session.execute(
            select(SegmentationRun.id)
            .where(
                SegmentationRun.scheme_code == scheme_code, SegmentationRun.status == "succeeded"
            )
            .order_by(SegmentationRun.as_of.desc(), SegmentationRun.started_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return found


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
    run_id = await _latest_run(session, scheme_code)
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
# Pending moves


@dataclass(frozen=True)
class MovePage:
    rows: list[PendingMove]
    next_after_id: int | None


async def pending_moves(
    session: AsyncSession,
    scheme: str | None = None,
    status: str | None = "pending",
    *,
    reason: str | None = None,
    entity: str | None = None,
    after_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MovePage:
    """Moves waiting for a decision (or of another ``status``), oldest first."""
    m = PendingMove
    limit = clamp(limit)
    query = select(m)
    if scheme:
        query = query.where(m.scheme_code == scheme)
    if status:
        query = query.where(m.status == status)
    if reason:
        query = query.where(m.reasons.any(reason))  # type: ignore[arg-type]
    if entity:
        query = query.where(m.entity_key.like(_escape_like(entity) + "%", escape="\\"))
    if after_id is not None:
        query = query.where(m.id > after_id)
    rows = list((await session.execute(query.order_by(m.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return MovePage(rows, rows[-1].id if more and rows else None)


async def move_reasons(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(func.unnest(PendingMove.reasons).label("reason"))
        .where(PendingMove.status == "pending")
        .distinct()
    )
    return sorted(str(r) for r in rows.scalars())


def _check_decision(ids: Sequence[int], decision: str, reason: str) -> list[int]:
    if decision not in ("apply", "reject"):
        raise MovesRefused("decision: choose apply or reject")
    if not reason.strip():
        raise MovesRefused("reason: say why (it goes into the audit log)")
    unique = sorted(set(ids))
    if not unique:
        raise MovesRefused("moves: choose at least one move")
    if len(unique) > MAX_DECISION:
        raise MovesRefused(f"moves: at most {MAX_DECISION} at once")
    return unique


async def _locked_moves(session: AsyncSession, ids: list[int]) -> list[PendingMove]:
    rows = list(
        (
            await session.execute(
                select(PendingMove)
                .where(PendingMove.id.in_(ids))
                .order_by(PendingMove.id)
                .with_for_update()
            )
        ).scalars()
    )
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise MovesNotFound(f"moves {', '.join(map(str, missing[:20]))}: no such move")
    decided = [r for r in rows if r.status != "pending"]
    if decided:
        listed = ", ".join(f"{r.id} ({r.status})" for r in decided[:20])
        raise MovesRefused(f"already decided, nothing was changed: {listed}")
    return rows


async def _open_assignments(
    session: AsyncSession, moves: list[PendingMove]
) -> dict[tuple[str, str], SegmentAssignment]:
    a = SegmentAssignment
    pairs = {(m.scheme_code, m.entity_key) for m in moves}
    conditions = [and_(a.scheme_code == s, a.entity_key == k) for s, k in pairs]
    rows = (
        await session.execute(
            select(a).where(a.valid_to.is_(None), or_(*conditions)).with_for_update()
        )
    ).scalars()
    return {(row.scheme_code, row.entity_key): row for row in rows}


async def decide_moves(
    session: AsyncSession,
    ids: Sequence[int],
    decision: Literal["apply", "reject"],
    actor: ActingParty,
    reason: str,
    *,
    allow_major: bool = True,
    tenant_slug: str | None = None,
) -> int:
    """Apply or reject pending moves, all or none; returns how many were decided.

    Refused (``MovesRefused``, nothing changed) when the reason is empty, a move is unknown or
    no longer pending, or (apply) the assignment in force is not the one the move starts from.
    Moves that jump tiers (reason ``tier_jump``) need ``allow_major`` (the caller holds
    ``overrides:approve_major``). Applying closes the open assignment and opens the new one
    (source from the move, reason ``approved: …``); account managers of moved customers are
    notified in the same transaction.
    """
    unique = _check_decision(ids, decision, reason)
    reason = reason.strip()
    moves = await _locked_moves(session, unique)
    if not allow_major:
        major = [m.id for m in moves if "tier_jump" in (m.reasons or [])]
        if major:
            raise MovesForbidden(
                "moves that jump tiers need overrides:approve_major: "
                + ", ".join(map(str, major[:20]))
            )
    now = datetime.now(UTC)
    if decision == "apply":
        await _apply(session, moves, actor, reason, now)
    status = "applied" if decision == "apply" else "rejected"
    await session.execute(
        update(PendingMove)
        .where(PendingMove.id.in_(unique))
        .values(status=status, decided_by=actor.name, decided_at=now, decision_reason=reason)
        .execution_options(synchronize_session=False)
    )
    for move in moves:
        await record_by(
            session,
            actor,
            f"segments.move.{decision}",
            "segment_assignment",
            f"{move.scheme_code}:{move.entity_key}",
            before={"segment": move.from_segment, "move": move.id, "status": "pending"},
            after={
                "segment": move.to_segment if decision == "apply" else move.from_segment,
                "move": move.id,
                "status": status,
                "run": str(move.run_id),
            },
            reason=reason,
        )
    if decision == "apply":
        await _notify_managers(session, moves, reason, tenant_slug)
    return len(moves)


async def _apply(
    session: AsyncSession,
    moves: list[PendingMove],
    actor: ActingParty,
    reason: str,
    now: datetime,
) -> None:
    current = await _open_assignments(session, moves)
    stale = [
        m.id
        for m in moves
        if (
            current[(m.scheme_code, m.entity_key)].segment
            if (m.scheme_code, m.entity_key) in current
            else None
        )
        != m.from_segment
    ]
    if stale:
        raise MovesRefused(
            "the assignment in force changed since the run, nothing was changed: moves "
            + ", ".join(map(str, stale[:20]))
        )
    for move in moves:
        found = current.get((move.scheme_code, move.entity_key))
        if found is not None:
            found.valid_to = now
    await session.flush()  # close before open: at most one open row per entity
    session.add_all(
        [
            SegmentAssignment(
                scheme_code=m.scheme_code,
                entity_key=m.entity_key,
                customer_code=m.customer_code,
                sku=m.sku,
                segment=m.to_segment,
                valid_from=now,
                run_id=m.run_id,
                source=m.source,
                reason=f"approved: {reason}",
                created_by=actor.name,
            )
            for m in moves
        ]
    )
    await session.flush()


async def _notify_managers(
    session: AsyncSession, moves: list[PendingMove], reason: str, tenant_slug: str | None
) -> int:
    """One notification per account manager listing their customers' approved moves."""
    customers = sorted({m.customer_code for m in moves if m.customer_code})
    if not customers:
        return 0
    managers = await session.execute(
        select(_customers.c.code, func.lower(_customers.c.account_manager_email)).where(
            _customers.c.code.in_(customers), _customers.c.account_manager_email.is_not(None)
        )
    )
    manager_of = {str(code): str(email) for code, email in managers.all()}
    frame = pl.DataFrame(
        {
            "manager": [manager_of.get(m.customer_code or "") for m in moves],
            "line": [
                f"- {m.customer_code}{' / ' + m.sku if m.sku and m.customer_code else ''} "
                f"({m.scheme_code}): {m.from_segment or 'none'} -> {m.to_segment}"
                for m in moves
            ],
        },
        schema={"manager": pl.String, "line": pl.String},
    ).drop_nulls("manager")
    batch = uuid.uuid4().hex
    items = []
    for (manager,), group in frame.group_by("manager", maintain_order=True):
        count = group.height
        lines = group["line"].head(40).to_list()
        if count > 40:
            lines.append(f"... and {count - 40} more")
        items.append(
            (
                str(manager),
                f"{count} customer{'s' if count != 1 else ''} moved segment (approved)",
                f"Approved with the reason: {reason}\n" + "\n".join(lines),
                f"/t/{tenant_slug}/segments/moves?status=applied" if tenant_slug else "",
                f"segment-decision:{batch}",
            )
        )
    return await notify_many(session, items, kind="segment_move")
