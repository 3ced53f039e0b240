"""Tenant schema: the KPI cells found by customer as well as by period.

Revision ID: t0017
Revises: t0032
Create Date: 2026-12-08

An update after an import replaces only the touched customers' cells of the touched periods;
with an index on the period alone it read every cell of those months (hundreds of thousands on
a large tenant) to find a few hundred customers' cells. A full computation loads the cells
without this index and builds it once at the end, as it does the period index.
"""

from __future__ import annotations

from alembic import op

revision = "t0017"
down_revision = "t0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_kpi_cells_customer", "kpi_cells", ["grain", "customer_code", "period_start"]
    )


def downgrade() -> None:
    op.drop_index("ix_kpi_cells_customer", table_name="kpi_cells")
