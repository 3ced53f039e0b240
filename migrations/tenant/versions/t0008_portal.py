"""Tenant schema: the B2B portal's branding.

Revision ID: t0008
Revises: t0007
Create Date: 2026-12-02

``portal_branding`` holds at most one row (``id = 1``, checked): the name, logo and colours
every portal page of the tenant shows. The logo is stored in the tenant schema (PNG or JPEG,
at most 256 KB; the portal serves it from its own origin, as the content security policy
allows no third-party images). Colours are ``#rrggbb``; the application refuses colours that
white text cannot be read on (contrast below 4.5:1), the check constraint only pins the format.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLOUR = "^#[0-9a-f]{6}$"


def upgrade() -> None:
    op.create_table(
        "portal_branding",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("logo", sa.LargeBinary, nullable=True),
        sa.Column("logo_type", sa.String(40), nullable=True),
        sa.Column("primary_colour", sa.String(7), nullable=False),
        sa.Column("accent_colour", sa.String(7), nullable=False),
        sa.Column("support_email", sa.String(320), nullable=True),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.String(320), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_portal_branding_singleton"),
        sa.CheckConstraint(f"primary_colour ~ '{COLOUR}'", name="ck_portal_branding_primary"),
        sa.CheckConstraint(f"accent_colour ~ '{COLOUR}'", name="ck_portal_branding_accent"),
        sa.CheckConstraint(
            "logo IS NULL OR (octet_length(logo) <= 262144 "
            "AND logo_type IN ('image/png', 'image/jpeg'))",
            name="ck_portal_branding_logo",
        ),
    )


def downgrade() -> None:
    op.drop_table("portal_branding")
