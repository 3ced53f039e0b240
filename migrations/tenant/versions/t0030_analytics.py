"""Tenant schema: commercial analytics settings.

Revision ID: t0030
Revises: t0027
Create Date: 2026-12-08

One row per tenant: the customer scheme cost-to-serve and cohorts follow (null: the first
published customer scheme), the allocation driver of each cost type (lines, units, weight or
value) and after how many months without an order a customer counts as churned. Analytics
figures are computed on demand and never stored (no money at rest beyond the sealed sources).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0030"
down_revision = "t0027"
branch_labels = None
depends_on = None

DRIVERS = "IN ('lines', 'units', 'weight', 'value')"


def upgrade() -> None:
    op.create_table(
        "analytics_settings",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("scheme_code", sa.String(40), nullable=True),
        sa.Column("freight_driver", sa.String(10), nullable=False, server_default="units"),
        sa.Column("handling_driver", sa.String(10), nullable=False, server_default="lines"),
        sa.Column("returns_driver", sa.String(10), nullable=False, server_default="value"),
        sa.Column("churn_periods", sa.Integer(), nullable=False, server_default="3"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_analytics_settings_single"),
        sa.CheckConstraint(f"freight_driver {DRIVERS}", name="ck_analytics_freight_driver"),
        sa.CheckConstraint(f"handling_driver {DRIVERS}", name="ck_analytics_handling_driver"),
        sa.CheckConstraint(f"returns_driver {DRIVERS}", name="ck_analytics_returns_driver"),
        sa.CheckConstraint("churn_periods BETWEEN 1 AND 24", name="ck_analytics_churn_periods"),
    )


def downgrade() -> None:
    op.drop_table("analytics_settings")
