"""Control plane: platform jobs carry a stable error code beside their human message.

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("control_jobs", sa.Column("error_code", sa.String(60), nullable=True))


def downgrade() -> None:
    op.drop_column("control_jobs", "error_code")
