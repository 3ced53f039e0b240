"""Tenant schema: jobs carry a stable error code beside their human message.

Revision ID: t0012
Revises: t0011
Create Date: 2026-12-08

Until now a failed job kept the exception's text, which could hold SQL, schema names and
values; that text now goes to the log only. Rows failed before this revision have no code:
the API shows them as ``unknown`` without their stored text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("error_code", sa.String(60), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "error_code")
