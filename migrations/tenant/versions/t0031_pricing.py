"""Tenant schema: pricing differentiation within contracts.

Revision ID: t0031
Revises: t0030
Create Date: 2026-12-08

``service_price_terms``: service surcharges (positive) and discounts (negative) in basis points
of the order value, per segment of a customer scheme or per entitlement feature, with their
validity. ``contract_price_clauses``: per customer contract (by its reference), the most the
customer may be surcharged and the least discount it is guaranteed. A reclassification or an
entitlement change that would breach a clause is held like a contract-minimum conflict.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0031"
down_revision = "t0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_price_terms",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("scheme_code", sa.String(40), nullable=False),
        sa.Column("segment", sa.String(20), nullable=True),
        sa.Column("feature", sa.String(40), nullable=True),
        sa.Column("adjustment_bp", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.CheckConstraint(
            "(segment IS NULL) <> (feature IS NULL)", name="ck_service_price_terms_target"
        ),
        sa.CheckConstraint(
            "adjustment_bp BETWEEN -10000 AND 10000", name="ck_service_price_terms_range"
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name="ck_service_price_terms_period"
        ),
    )
    op.create_index(
        "ix_service_price_terms_scheme", "service_price_terms", ["scheme_code", "valid_from"]
    )
    op.create_table(
        "contract_price_clauses",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("customer_code", sa.String(100), nullable=False),
        sa.Column("contract_reference", sa.String(100), nullable=False, unique=True),
        sa.Column("max_surcharge_bp", sa.Integer(), nullable=True),
        sa.Column("min_discount_bp", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.CheckConstraint(
            "max_surcharge_bp IS NOT NULL OR min_discount_bp IS NOT NULL",
            name="ck_contract_price_clauses_some",
        ),
        sa.CheckConstraint(
            "coalesce(max_surcharge_bp, 0) BETWEEN 0 AND 10000 "
            "AND coalesce(min_discount_bp, 0) BETWEEN 0 AND 10000",
            name="ck_contract_price_clauses_range",
        ),
    )


def downgrade() -> None:
    op.drop_table("contract_price_clauses")
    op.drop_table("service_price_terms")
