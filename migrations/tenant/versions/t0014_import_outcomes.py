"""Tenant schema: imports say why they failed, beat while they run and count records sent to
the data steward; unit conversions keep their denominator.

Revision ID: t0014
Revises: t0013
Create Date: 2026-12-10

- ``imports.failure_reason``: an import that could not finish (its process was killed, or it
  failed on our side) is marked ``failed`` with the reason, instead of staying ``validating``.
- ``imports.heartbeat_at``: refreshed while the import runs; a ``validating`` import whose
  heart stopped beating is found by the sweep.
- ``imports.to_steward``: source records of a non-ERP customer or product file left for a
  data steward to decide.
- ``uom_conversions.denominator``: one unit holds ``factor / denominator`` base units (SAP
  MARM ``UMREZ`` / ``UMREN``), exactly: 10/9 or 1/3 are not decimals. Existing rows hold 1.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("imports", sa.Column("failure_reason", sa.Text(), nullable=True))
    op.add_column("imports", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "imports",
        sa.Column("to_steward", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column(
        "uom_conversions",
        sa.Column("denominator", sa.Numeric(20, 8), nullable=False, server_default="1"),
    )
    op.create_check_constraint(
        "ck_uom_conversions_positive", "uom_conversions", "factor > 0 AND denominator > 0"
    )


def downgrade() -> None:
    op.drop_constraint("ck_uom_conversions_positive", "uom_conversions", type_="check")
    op.drop_column("uom_conversions", "denominator")
    op.drop_column("imports", "to_steward")
    op.drop_column("imports", "heartbeat_at")
    op.drop_column("imports", "failure_reason")
