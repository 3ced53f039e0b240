"""In-app notifications and the e-mail outbox.

``notify`` / ``notify_many`` write a notification per recipient and, in the same transaction as
the caller's change, an outbox row per e-mail; the worker's cron delivers the outbox through
SMTP (``TIERLINE_SMTP_URL``) with back-off, so nothing is lost while the mail server is down.
"""

from tierline.platform.notifications.service import (
    NotificationItem,
    NotificationPage,
    list_for,
    mark_read,
    notify,
    notify_many,
    unread_count,
)

__all__ = [
    "NotificationItem",
    "NotificationPage",
    "list_for",
    "mark_read",
    "notify",
    "notify_many",
    "unread_count",
]
