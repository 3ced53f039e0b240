"""Tenant schema: the supply network and what flows through it.

Revision ID: t0025
Revises: t0020
Create Date: 2026-12-08

- ``sourcing_lanes``: a location replenished from a supplier or an upstream location, with a
  planned lead time counted in calendar or working days (imports refuse lane cycles).
- ``open_supply``: purchase orders and transfers not yet received, with their due dates.
- ``demand_forecasts``: optional expected demand per SKU-location and period.
- ``promotions``: promotion events (SKU, location, start, end, expected uplift).
- ``erp_parameters``: the planning parameters the ERP runs on today per SKU-location (SAP
  MARC: MRP type, reorder point, safety stock, planned delivery and goods-receipt days, lot
  sizes BSTMI, BSTRF and the maximum stock level MABST), quantities in base units and the
  unit the ERP keeps them in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0025"
down_revision = "t0020"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
CODE = sa.String(100)
QTY = sa.Numeric(18, 4)
DAYS = sa.Numeric(10, 2)


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
    ]


def _sku_location() -> list[sa.Column[object]]:
    return [
        sa.Column("sku", CODE, sa.ForeignKey("products.sku"), primary_key=True),
        sa.Column("location_code", CODE, sa.ForeignKey("locations.code"), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "sourcing_lanes",
        sa.Column("location_code", CODE, sa.ForeignKey("locations.code"), primary_key=True),
        sa.Column("source_code", CODE, primary_key=True),
        sa.Column("source_kind", sa.String(12), nullable=False),
        sa.Column("planned_lead_time_days", DAYS, nullable=False),
        sa.Column("calendar", sa.String(12), nullable=False, server_default="calendar"),
        *_stamps(),
        sa.CheckConstraint("planned_lead_time_days >= 0", name="ck_sourcing_lanes_lead_time"),
    )
    op.create_table(
        "open_supply",
        sa.Column("order_no", sa.String(60), primary_key=True),
        sa.Column("line_no", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sku", CODE, sa.ForeignKey("products.sku"), nullable=False),
        sa.Column("location_code", CODE, sa.ForeignKey("locations.code"), nullable=False),
        sa.Column("source_code", CODE, nullable=True),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_open_supply_sku_location", "open_supply", ["sku", "location_code"])
    op.create_table(
        "demand_forecasts",
        *_sku_location(),
        sa.Column("period_start", sa.Date(), primary_key=True),
        sa.Column("period_days", sa.Integer(), nullable=False, server_default="7"),
        sa.Column("quantity", QTY, nullable=False),
        *_stamps(),
    )
    op.create_table(
        "promotions",
        *_sku_location(),
        sa.Column("starts_on", sa.Date(), primary_key=True),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("uplift", sa.Numeric(10, 4), nullable=False),
        *_stamps(),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_promotions_dates"),
    )
    op.create_table(
        "erp_parameters",
        *_sku_location(),
        sa.Column("mrp_type", sa.String(4), nullable=False),
        sa.Column("reorder_point", QTY, nullable=True),
        sa.Column("safety_stock", QTY, nullable=True),
        sa.Column("planned_delivery_days", DAYS, nullable=True),
        sa.Column("goods_receipt_days", DAYS, nullable=True),
        sa.Column("days_basis", sa.String(12), nullable=False, server_default="calendar"),
        sa.Column("min_lot", QTY, nullable=True),
        sa.Column("lot_rounding", QTY, nullable=True),
        sa.Column("max_stock", QTY, nullable=True),
        sa.Column("uom", sa.String(20), nullable=False),
        *_stamps(),
    )


def downgrade() -> None:
    for table in (
        "erp_parameters",
        "promotions",
        "demand_forecasts",
        "open_supply",
        "sourcing_lanes",
    ):
        op.drop_table(table)
