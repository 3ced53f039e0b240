"""API shapes for notifications."""

from __future__ import annotations

from datetime import datetime

import msgspec


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    link: str | None  # a path within Tierline, e.g. /t/acme/segments/...
    created_at: datetime
    read_at: datetime | None
    unread: bool


class NotificationListOut(msgspec.Struct):
    """A page of the caller's notifications (``next_cursor`` as ``cursor`` for the next)."""

    items: list[NotificationOut]
    unread: int  # the caller's unread count
    next_cursor: str | None


class MarkReadIn(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[int] = msgspec.field(default_factory=list)
    all: bool = False


class MarkReadOut(msgspec.Struct):
    marked: int
    unread: int
