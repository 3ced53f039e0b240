"""Tenant schema: reconciliations and simulations remember the job that made them.

Revision ID: t0028
Revises: t0021
Create Date: 2026-12-08

Both now run as jobs (``inventory.reconciliation``, ``inventory.simulation``); arq may run a
job twice, so each keeps its ``job_id`` (unique) and a retried job finds what its first
attempt kept instead of making another.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0028"
down_revision = "t0021"
branch_labels = None
depends_on = None

TABLES = ("erp_reconciliations", "inventory_simulations")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("job_id", sa.String(120), nullable=True))
        op.create_unique_constraint(f"uq_{table}_job_id", table, ["job_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_constraint(f"uq_{table}_job_id", table, type_="unique")
        op.drop_column(table, "job_id")
