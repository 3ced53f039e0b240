"""Tenant schema: KPI definitions, stored KPI counts, the computation state and alerts.

Revision ID: t0016
Revises: t0015
Create Date: 2026-12-08

``kpi_cells`` keeps the KPI engine's additive counts per grain, period, customer, product,
location and segment (no money); ``kpi_rollups`` the same summed by segment, region, channel,
business unit, product line and scope for the dashboard. ``kpi_alerts`` allows one live (open or acknowledged) alert per
scheme, segment, KPI, grain and rule (partial unique index), so a re-evaluation never opens a
second one. A BRIN index on ``order_lines.updated_at`` finds the lines an import wrote since the
last computation without reading the table (imports write in time order).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0016"
down_revision = "t0015"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
EMAIL = sa.String(320)
COUNTS = (
    "lines",
    "delivered_lines",
    "judged_lines",
    "units_ordered",
    "units_delivered",
    "lines_in_full",
    "lines_on_time",
    "lines_otif",
    "lines_perfect",
    "lead_days_sum",
    "lines_due",
    "lines_backordered",
    "lines_late",
    "lines_short",
    "lines_damaged",
    "lines_doc_errors",
    "orders",
    "orders_delivered",
    "orders_judged",
    "orders_in_full",
    "orders_on_time",
    "orders_otif",
    "orders_undamaged",
    "orders_doc_ok",
    "orders_perfect",
    "dq_delivered_before_order",
    "dq_over_delivered",
    "dq_missing_due_date",
    "dq_missing_quantity",
)


def upgrade() -> None:
    op.create_table(
        "kpi_definitions",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", pg.JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", EMAIL, nullable=True),
    )
    op.create_table(
        "kpi_state",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("scheme_code", sa.String(40), nullable=True),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("lines_seen_until", TS, nullable=True),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("periods", sa.Integer, nullable=False),
    )
    # No primary key: a computation replaces whole periods (delete, then COPY) in one
    # transaction under a per-tenant lock, so a cell is unique by construction, and a six-column
    # unique index would cost more than the rest of a full computation to maintain.
    op.create_table(
        "kpi_cells",
        sa.Column("grain", sa.String(5), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("customer_code", sa.String(100), nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("location_code", sa.String(100), nullable=False),
        sa.Column("segment", sa.String(20), nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        *[sa.Column(name, sa.BigInteger, nullable=False) for name in COUNTS],
    )
    op.create_index("ix_kpi_cells_period", "kpi_cells", ["grain", "period_start"])
    # The dashboard's roll-up: the cells summed by segment and the customer and product
    # dimensions (and the customer's business scope, for regional readers).
    op.create_table(
        "kpi_rollups",
        sa.Column("grain", sa.String(5), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("segment", sa.String(20), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("business_unit", sa.String(40), nullable=False),
        sa.Column("product_line", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(40), nullable=False),
        *[sa.Column(name, sa.BigInteger, nullable=False) for name in COUNTS],
    )
    op.create_index("ix_kpi_rollups_period", "kpi_rollups", ["grain", "period_start"])
    op.create_table(
        "kpi_alerts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("scheme_code", sa.String(40), nullable=False),
        sa.Column("segment", sa.String(20), nullable=False),
        sa.Column("kpi", sa.String(40), nullable=False),
        sa.Column("grain", sa.String(5), nullable=False),
        sa.Column("rule", sa.String(10), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("first_period", sa.Date, nullable=False),
        sa.Column("last_period", sa.Date, nullable=False),
        sa.Column("periods_below", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("target", sa.Float, nullable=True),
        sa.Column("step_reached", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("acknowledged_by", EMAIL, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledge_reason", sa.Text, nullable=True),
        sa.Column("resolved_by", EMAIL, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolve_reason", sa.Text, nullable=True),
    )
    op.create_index(
        "uq_kpi_alerts_live",
        "kpi_alerts",
        ["scheme_code", "segment", "kpi", "grain", "rule"],
        unique=True,
        postgresql_where=sa.text("state <> 'resolved'"),
    )
    op.create_index(
        "ix_order_lines_updated_at", "order_lines", ["updated_at"], postgresql_using="brin"
    )


def downgrade() -> None:
    op.drop_index("ix_order_lines_updated_at", table_name="order_lines")
    op.drop_table("kpi_alerts")
    op.drop_table("kpi_rollups")
    op.drop_table("kpi_cells")
    op.drop_table("kpi_state")
    op.drop_table("kpi_definitions")
