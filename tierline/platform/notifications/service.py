"""Writing and reading notifications.

Writes go through the caller's session or connection, so the notification and its outbox row
commit or roll back with the change that caused them (that is what makes the outbox safe). A
batch of any size is one statement: the rows travel as five arrays and ``unnest`` them, the
notifications are inserted with ``ON CONFLICT (dedupe_key) DO NOTHING``, and the outbox rows
are inserted from what that insert returned (a data-modifying CTE), so a duplicate notifies
nobody and mails nobody.

Reads always filter on the recipient's own e-mail: a user sees and marks only their own rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    any_,
    bindparam,
    column,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.platform.notifications.models import EmailOutbox, Notification

Db = AsyncSession | AsyncConnection

MAX_TITLE = 300
MAX_BODY = 20_000
MAX_LINK = 2000
MAX_KIND = 60
MAX_PAGE = 200
DEFAULT_PAGE = 50

_SPACE = re.compile(r"\s+")


class NotificationItem(NamedTuple):
    """One notification for one recipient (``notify_many`` takes a list of these or tuples)."""

    recipient: str
    title: str
    body: str
    link: str | None = None
    dedupe_key: str | None = None


# (recipient, title, body, link, dedupe_key): what ``notify_many`` also takes as a plain tuple.
NotificationTuple = tuple[str, str, str, str | None, str | None]


@dataclass(frozen=True)
class NotificationRow:
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationRow]
    next_before_id: int | None  # pass as ``before_id`` for the next page; None: no more


def normalize_email(address: str) -> str:
    return (address or "").strip().lower()


def _check_kind(kind: str) -> str:
    if not kind or len(kind) > MAX_KIND or not re.fullmatch(r"[a-z][a-z0-9_.\-]*", kind):
        raise ValueError(f"notification kind {kind!r}: lower-case letters, digits, . _ -")
    return kind


def _clean_title(title: str) -> str:
    # One line: it becomes an e-mail subject, where a line break would be header injection.
    cleaned = _SPACE.sub(" ", title or "").strip()
    if not cleaned:
        raise ValueError("a notification needs a title")
    return cleaned[:MAX_TITLE]


def _check_link(link: str | None) -> str | None:
    """Relative to the app only (``/t/acme/...``): never another site, never a script."""
    if link is None or link == "":
        return None
    if (
        not link.startswith("/")
        or link.startswith("//")
        or "\\" in link
        or len(link) > MAX_LINK
        or any(ch.isspace() or ord(ch) < 32 for ch in link)
    ):
        raise ValueError(f"notification link {link!r} must be a path within Tierline")
    return link


def _row_key(dedupe_key: str | None, recipient: str) -> str | None:
    return f"{dedupe_key}:{recipient}" if dedupe_key else None


def _arrays(items: Iterable[NotificationItem | NotificationTuple]) -> dict[str, list[str | None]]:
    columns: dict[str, list[str | None]] = {
        "recipients": [],
        "titles": [],
        "bodies": [],
        "links": [],
        "keys": [],
    }
    for raw in items:
        item = NotificationItem(*raw)
        recipient = normalize_email(item.recipient)
        if not recipient:
            continue
        columns["recipients"].append(recipient)
        columns["titles"].append(_clean_title(item.title))
        columns["bodies"].append((item.body or "")[:MAX_BODY])
        columns["links"].append(_check_link(item.link))
        columns["keys"].append(_row_key(item.dedupe_key, recipient))
    return columns


def _insert_statement(kind: str, email: bool, arrays: dict[str, list[str | None]]) -> Select[int]:
    text_array = ARRAY(Text)
    src = (
        func.unnest(*(bindparam(name, value, type_=text_array) for name, value in arrays.items()))
        .table_valued(
            column("recipient_email", String),
            column("title", String),
            column("body", Text),
            column("link", String),
            column("dedupe_key", String),
        )
        .render_derived(name="src")
    )
    inserted = (
        pg_insert(Notification)
        .from_select(
            ["recipient_email", "kind", "title", "body", "link", "dedupe_key", "created_at"],
            select(
                src.c.recipient_email,
                literal(kind, String),
                src.c.title,
                src.c.body,
                src.c.link,
                src.c.dedupe_key,
                func.now(),
            ),
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(
            Notification.id,
            Notification.recipient_email,
            Notification.title,
            Notification.body,
            Notification.dedupe_key,
        )
        .cte("inserted")
    )
    counted = select(func.count()).select_from(inserted)
    if not email:
        return counted
    queued = (
        pg_insert(EmailOutbox)
        .from_select(
            [
                "notification_id",
                "to_address",
                "subject",
                "body",
                "dedupe_key",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            select(
                inserted.c.id,
                inserted.c.recipient_email,
                inserted.c.title,
                inserted.c.body,
                inserted.c.dedupe_key,
                literal("pending", String),
                literal(0),
                func.now(),
                func.now(),
            ),
        )
        .on_conflict_do_nothing(index_elements=[EmailOutbox.dedupe_key])
        .cte("queued")
    )
    return counted.add_cte(queued)


async def notify_many(
    db: Db,
    items: Sequence[NotificationItem | NotificationTuple],
    *,
    kind: str,
    email: bool = True,
) -> int:
    """Notify many recipients in one statement; returns how many notifications were new.

    Each item is ``(recipient, title, body, link, dedupe_key)``. A row whose
    ``dedupe_key + ":" + recipient`` exists already is skipped, with its e-mail. With ``email``
    an outbox row per new notification is queued in the caller's transaction.
    """
    arrays = _arrays(items)
    if not arrays["recipients"]:
        return 0
    statement = _insert_statement(_check_kind(kind), email, arrays)
    result = await db.execute(statement)
    return int(result.scalar_one())


async def notify(
    db: Db,
    *,
    recipients: Sequence[str],
    kind: str,
    title: str,
    body: str,
    link: str | None,
    dedupe_key: str | None,
    email: bool = True,
) -> int:
    """The same notification for each recipient (duplicates and blanks ignored); see
    ``notify_many``. Returns how many notifications were new."""
    seen: dict[str, None] = {}
    for recipient in recipients:
        address = normalize_email(recipient)
        if address:
            seen.setdefault(address)
    items = [NotificationItem(r, title, body, link, dedupe_key) for r in seen]
    return await notify_many(db, items, kind=kind, email=email)


async def queue_email(db: Db, *, to: str, subject: str, body: str, dedupe_key: str) -> bool:
    """Queue one e-mail in the outbox without an in-app notification (for people who are not
    signed in, e.g. a password-reset link). Sent with the caller's transaction; a second call
    with the same ``dedupe_key`` queues nothing. Returns whether it was queued."""
    from tierline.platform.notifications.models import EmailOutbox

    statement = (
        pg_insert(EmailOutbox)
        .values(
            to_address=normalize_email(to),
            subject=_clean_title(subject),
            body=body,
            dedupe_key=dedupe_key,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(EmailOutbox.id)
    )
    return (await db.execute(statement)).first() is not None


# ---------------------------------------------------------------------------------------------
# Reading and marking (always the caller's own rows)


async def unread_count(db: Db, email: str) -> int:
    result = await db.execute(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.recipient_email == normalize_email(email),
            Notification.read_at.is_(None),
        )
    )
    return int(result.scalar_one())


def _after(cursor_read: bool, cursor_id: int) -> ColumnElement[bool]:
    """Rows that come after the cursor in "unread first, then newest" order."""
    if cursor_read:
        return and_(Notification.read_at.is_not(None), Notification.id < cursor_id)
    return or_(
        and_(Notification.read_at.is_(None), Notification.id < cursor_id),
        Notification.read_at.is_not(None),
    )


async def list_for(
    db: Db,
    email: str,
    *,
    unread_only: bool = False,
    before_id: int | None = None,
    limit: int = DEFAULT_PAGE,
) -> NotificationPage:
    """The recipient's notifications, unread first, then newest first; keyset-paged."""
    recipient = normalize_email(email)
    limit = max(1, min(limit, MAX_PAGE))
    mine = Notification.recipient_email == recipient
    query = select(
        Notification.id,
        Notification.kind,
        Notification.title,
        Notification.body,
        Notification.link,
        Notification.created_at,
        Notification.read_at,
    ).where(mine)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        cursor = await db.execute(
            select(Notification.read_at).where(mine, Notification.id == before_id)
        )
        found = cursor.one_or_none()
        if found is None:  # not (or no longer) the caller's: start over rather than guess
            before_id = None
        else:
            query = query.where(_after(found[0] is not None, before_id))
    query = query.order_by(Notification.read_at.is_not(None), Notification.id.desc())
    rows = (await db.execute(query.limit(limit + 1))).all()
    items = [NotificationRow(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return NotificationPage(items, items[-1].id if more and items else None)


async def mark_read(db: Db, email: str, ids: Sequence[int] | Literal["all"]) -> int:
    """Mark the recipient's own notifications read (the ids, or all); returns how many changed.
    Ids of other recipients' rows are ignored."""
    statement = (
        update(Notification)
        .where(
            Notification.recipient_email == normalize_email(email),
            Notification.read_at.is_(None),
        )
        .values(read_at=func.now())
    )
    if ids != "all":
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return 0
        statement = statement.where(
            Notification.id == any_(bindparam("ids", wanted, type_=ARRAY(BigInteger)))
        )
    result = await db.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
