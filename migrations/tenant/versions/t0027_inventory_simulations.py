"""Tenant schema: simulations before deployment.

Revision ID: t0027
Revises: t0026
Create Date: 2026-12-08

``inventory_simulations``: one replay of the demand history under the ERP's parameters and
under the policy run in force: its size (days, SKU-locations, whether they were sampled), the
per-segment comparison with bootstrap intervals, the calibration report, the segments whose
simulated attainment falls below their entitlement (``shortfalls``, what publishing a policy
asks an acknowledgement for) and counts of the rows left out by reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0027"
down_revision = "t0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_simulations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("policy_run_id", sa.Uuid(), nullable=True),
        sa.Column("policy_code", sa.String(40), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("sku_locations", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Boolean(), nullable=False, server_default=sa.false()),
        *[
            sa.Column(name, pg.JSONB(), nullable=False, server_default="[]")
            for name in ("comparison", "calibration", "shortfalls")
        ],
        sa.Column("flags", pg.JSONB(), nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("created_by", sa.String(320), nullable=False),
    )
    op.create_index("ix_inventory_simulations_policy", "inventory_simulations", ["policy_code"])


def downgrade() -> None:
    op.drop_table("inventory_simulations")
