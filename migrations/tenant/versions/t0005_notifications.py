"""Tenant schema: in-app notifications and the e-mail outbox.

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-25

A notification is one row per recipient (lower-case e-mail); the page reads a user's unread
rows newest first, so one index serves it. The outbox is written in the caller's transaction
and drained by the worker; the partial index keeps "is anything due?" an index probe however
many sent rows accumulate. ``dedupe_key`` is unique (NULLs allowed) in both tables so a retried
job cannot notify or mail twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("recipient_email", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", TS, nullable=True),
        sa.Column("dedupe_key", sa.String(700), nullable=True, unique=True),
        sa.CheckConstraint(
            "recipient_email = lower(recipient_email)", name="ck_notifications_recipient_lower"
        ),
    )
    op.execute(
        "CREATE INDEX ix_notifications_recipient_read_created "
        "ON notifications (recipient_email, read_at, created_at DESC)"
    )

    op.create_table(
        "email_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "notification_id",
            sa.BigInteger,
            sa.ForeignKey("notifications.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("dedupe_key", sa.String(700), nullable=True, unique=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_email_outbox_status"
        ),
    )
    op.execute(
        "CREATE INDEX ix_email_outbox_due ON email_outbox (next_attempt_at) "
        "WHERE status = 'pending'"
    )
    op.create_index("ix_email_outbox_notification_id", "email_outbox", ["notification_id"])


def downgrade() -> None:
    op.drop_table("email_outbox")
    op.drop_table("notifications")
