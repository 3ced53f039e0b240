"""Tenant schema: S&OP packs and report subscriptions.

Revision ID: t0032
Revises: t0028
Create Date: 2026-12-08

``report_runs`` keeps every S&OP pack made (month, on demand or on schedule, by whom), its
XLSX and PDF each sealed under the tenant's data key bound to the run id (they hold money);
one scheduled pack per month (a retried schedule makes nothing twice).
``report_subscriptions``: who receives the pack by e-mail when the schedule makes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0032"
down_revision = "t0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("report", sa.String(20), nullable=False, server_default="sop_pack"),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("xlsx_enc", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_enc", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("trigger IN ('manual', 'schedule')", name="ck_report_runs_trigger"),
    )
    op.create_index("ix_report_runs_created", "report_runs", ["report", "created_at"])
    op.create_index(
        "ux_report_runs_scheduled",
        "report_runs",
        ["report", "month"],
        unique=True,
        postgresql_where=sa.text("trigger = 'schedule'"),
    )
    op.create_table(
        "report_subscriptions",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("report", sa.String(20), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_subscriptions")
    op.drop_table("report_runs")
