"""Data feeds and their freshness: can a segmentation run trust the data it is about to use?

A feed (``feeds`` table, written by every successful import) is *stale* when its last
successful load, or the newest source timestamp it brought, is older than its staleness
threshold, and *never* when it has not loaded yet. The segmentation inputs (customers,
products, order lines) are always listed: an entity nobody ever loaded shows as a ``never``
feed ``<entity>:erp``, so a run cannot silently classify on nothing. ``stale_feeds`` is what
segmentation runs ask before they start. Stewards set each feed's threshold and steward.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import Feed
from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import User
from tierline.platform.identity.users import Actor

FeedStatusName = Literal["fresh", "stale", "never"]
MIN_STALENESS_HOURS = 1
DEFAULT_STALENESS_HOURS = 24  # the column's default
MAX_STALENESS_HOURS = 2160  # 90 days: beyond that a feed is not monitored, it is forgotten
# The entities every segmentation run reads; they are listed even before their first load.
SEGMENTATION_ENTITIES = ("customers", "products", "order_lines")
PLACEHOLDER_SOURCE = "erp"


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


STEWARDS_OFFERED = 1000  # suggestions in the steward field; any active staff e-mail is accepted


async def steward_candidates(session: AsyncSession) -> list[str]:
    """E-mail addresses to suggest in a feed's steward field: active staff users."""
    rows = await session.execute(
        select(User.email)
        .where(User.kind == "staff", User.status == "active")
        .order_by(User.email)
        .limit(STEWARDS_OFFERED)
    )
    return [str(e) for e in rows.scalars()]
