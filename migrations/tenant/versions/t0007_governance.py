"""Tenant schema: override requests (maker-checker) and customer notices.

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-27

An override request moves through ``pending -> approved | rejected | expired | cancelled`` and
an approved one ends ``reverted`` when its expiry job restores the rule result. The partial
unique index allows one pending request per scheme and entity, so two planners cannot queue
contradicting overrides. ``scope`` is copied from the entity's master data when the request is
made: the approval queue filters and decides on it without joining master data. A customer
notice is what the portal shows a customer; ``dedupe_key`` is unique so a retried job or a
repeated approval cannot notify twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
KEY = sa.String(201)
SEG = sa.String(20)
EMAIL = sa.String(320)


def upgrade() -> None:
    op.create_table(
        "override_requests",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "scheme_code",
            sa.String(40),
            sa.ForeignKey("segmentation_schemes.code"),
            nullable=False,
        ),
        sa.Column("entity_key", KEY, nullable=False),
        sa.Column("customer_code", sa.String(100), nullable=True),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("from_segment", SEG, nullable=True),
        sa.Column("to_segment", SEG, nullable=False),
        sa.Column("tier_jump", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("scope", sa.String(40), nullable=False, server_default="*"),
        sa.Column("requested_by", EMAIL, nullable=False),
        sa.Column("requested_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("decided_by", EMAIL, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("conflicts_acknowledged", pg.JSONB, nullable=True),
        sa.Column(
            "assignment_id",
            sa.BigInteger,
            sa.ForeignKey("segment_assignments.id"),
            nullable=True,
        ),
        sa.Column("reverted_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','approved','rejected','expired','reverted','cancelled')",
            name="ck_override_requests_status",
        ),
        sa.CheckConstraint("length(btrim(reason)) > 0", name="ck_override_requests_reason"),
        sa.CheckConstraint("tier_jump >= 0", name="ck_override_requests_tier_jump"),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_override_requests_pending ON override_requests "
        "(scheme_code, entity_key) WHERE status = 'pending'"
    )
    op.create_index("ix_override_requests_status_id", "override_requests", ["status", "id"])
    op.execute(
        "CREATE INDEX ix_override_requests_due ON override_requests (expires_on) "
        "WHERE status = 'approved'"
    )

    op.create_table(
        "customer_notices",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_code", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("scheme_code", sa.String(40), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("old_segment", SEG, nullable=True),
        sa.Column("new_segment", SEG, nullable=True),
        sa.Column("old_entitlements", pg.JSONB, nullable=True),
        sa.Column("new_entitlements", pg.JSONB, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
        sa.CheckConstraint(
            "kind IN ('segment_change','entitlement_change','override','override_expired')",
            name="ck_customer_notices_kind",
        ),
    )
    op.execute(
        "CREATE INDEX ix_customer_notices_customer_id ON customer_notices (customer_code, id DESC)"
    )


def downgrade() -> None:
    op.drop_table("customer_notices")
    op.drop_table("override_requests")
