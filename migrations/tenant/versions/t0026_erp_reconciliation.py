"""Tenant schema: ERP reconciliations (recommended policy numbers against the ERP's).

Revision ID: t0026
Revises: t0025
Create Date: 2026-12-08

- ``erp_reconciliations``: one comparison, its counts and its change set's approval state
  (open, pending_approval, approved, rejected). ``policy_run_id`` names the policy run the
  recommendations came from (no foreign key: runs and reconciliations age apart).
- ``erp_reconciliation_rows``: one SKU-location each: both sides' values in base units, the
  mismatch flags, the proposed ERP values in the ERP's unit, the rank by money at stake and
  the inventory value delta sealed under the tenant's data key (``value_delta_enc``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0026"
down_revision = "t0025"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erp_reconciliations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("policy_run_id", sa.Uuid(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("counts", pg.JSONB(), nullable=False, server_default="{}"),
        sa.Column("costs_known", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("submitted_by", sa.String(320), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
    )
    text, num = sa.String, sa.Float()
    op.create_table(
        "erp_reconciliation_rows",
        sa.Column(
            "reconciliation_id",
            sa.BigInteger(),
            sa.ForeignKey("erp_reconciliations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sku", text(100), primary_key=True),
        sa.Column("location_code", text(100), primary_key=True),
        sa.Column("segment_code", text(20), nullable=True),
        sa.Column("policy_type", text(12), nullable=True),
        sa.Column("erp_mrp_type", text(4), nullable=True),
        sa.Column("proposed_mrp_type", text(4), nullable=True),
        sa.Column("base_uom", text(20), nullable=True),
        sa.Column("erp_uom", text(20), nullable=True),
        *[
            sa.Column(name, num, nullable=True)
            for name in (
                "factor",
                "erp_safety_stock",
                "rec_safety_stock",
                "erp_reorder_point",
                "rec_reorder_point",
                "erp_lead_time_days",
                "rec_lead_time_days",
            )
        ],
        sa.Column("days_basis", text(12), nullable=True),
        sa.Column("lane_calendar", text(12), nullable=True),
        sa.Column("proposed_safety_stock", num, nullable=True),
        sa.Column("proposed_reorder_point", num, nullable=True),
        sa.Column("flags", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("changed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("stake_rank", sa.Integer(), nullable=False),
        sa.Column("value_delta_enc", sa.LargeBinary(), nullable=True),
    )
    op.create_index(
        "ix_erp_reconciliation_rows_stake",
        "erp_reconciliation_rows",
        ["reconciliation_id", "stake_rank"],
    )


def downgrade() -> None:
    op.drop_table("erp_reconciliation_rows")
    op.drop_table("erp_reconciliations")
