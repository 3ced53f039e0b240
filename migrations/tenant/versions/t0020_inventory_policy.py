"""Tenant schema: inventory policy documents, their immutable versions, policy runs, their
archived statistics and one result row per SKU-location.

Revision ID: t0020
Revises: t0016
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0020"
down_revision = "t0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
EMAIL = sa.String(320)


def upgrade() -> None:
    op.create_table(
        "inventory_policies",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("draft", pg.JSONB, nullable=True),
        sa.Column("draft_updated_at", TS, nullable=True),
        sa.Column("draft_updated_by", EMAIL, nullable=True),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", EMAIL, nullable=True),
    )
    op.create_table(
        "inventory_policy_versions",
        sa.Column(
            "policy_code",
            sa.String(40),
            sa.ForeignKey("inventory_policies.code"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", pg.JSONB, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("published_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("published_by", EMAIL, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.execute(
        """
        CREATE FUNCTION inventory_policy_version_is_immutable() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'published inventory policy versions are immutable: % refused', TG_OP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER inventory_policy_versions_immutable BEFORE UPDATE OR DELETE "
        "ON inventory_policy_versions FOR EACH ROW "
        "EXECUTE FUNCTION inventory_policy_version_is_immutable()"
    )
    op.create_table(
        "inventory_policy_runs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "policy_code",
            sa.String(40),
            sa.ForeignKey("inventory_policies.code"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("engine_version", sa.String(20), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("requested_by", EMAIL, nullable=True),
        sa.Column("job_id", sa.String(120), nullable=True, unique=True),
        sa.Column("started_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("in_force_from", TS, nullable=True),
        sa.Column("inputs", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("counts", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("warnings", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_index(
        "inventory_policy_runs_in_force",
        "inventory_policy_runs",
        [sa.text("in_force_from DESC")],
        postgresql_where=sa.text("in_force_from IS NOT NULL"),
    )
    op.create_table(
        "inventory_run_snapshots",
        sa.Column(
            "run_id",
            sa.Uuid,
            sa.ForeignKey("inventory_policy_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("statistics", sa.LargeBinary, nullable=False),
        sa.Column("results_digest", sa.String(80), nullable=False),
    )
    op.create_table(
        "inventory_policy_results",
        sa.Column(
            "run_id",
            sa.Uuid,
            sa.ForeignKey("inventory_policy_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("location_code", sa.String(100), primary_key=True),
        sa.Column("segment_code", sa.String(20), nullable=True),
        sa.Column("target_rule", sa.String(20), nullable=False),
        sa.Column("policy_type", sa.String(12), nullable=False),
        sa.Column("service_measure", sa.String(20), nullable=False),
        sa.Column("service_target", sa.Float, nullable=True),
        sa.Column("base_uom", sa.String(20), nullable=True),
        sa.Column("demand_class", sa.String(12), nullable=False),
        sa.Column("distribution", sa.String(8), nullable=False),
        sa.Column("periods", sa.Integer, nullable=False),
        sa.Column("zero_periods", sa.Integer, nullable=False),
        sa.Column("demand_mean", sa.Float, nullable=False),
        sa.Column("demand_sd", sa.Float, nullable=False),
        sa.Column("lead_time_mean", sa.Float, nullable=True),
        sa.Column("lead_time_sd", sa.Float, nullable=True),
        sa.Column("lead_time_source", sa.String(12), nullable=False),
        sa.Column("lead_time_observations", sa.Integer, nullable=False),
        sa.Column("review_period", sa.Float, nullable=False),
        sa.Column("order_quantity", sa.Float, nullable=True),
        sa.Column("sigma", sa.Float, nullable=True),
        sa.Column("k", sa.Float, nullable=True),
        sa.Column("safety_stock", sa.Float, nullable=True),
        sa.Column("reorder_point", sa.Float, nullable=True),
        sa.Column("order_up_to", sa.Float, nullable=True),
        sa.Column("expected_fill_rate", sa.Float, nullable=True),
        sa.Column("expected_cycle_service_level", sa.Float, nullable=True),
        sa.Column("expected_on_hand", sa.Float, nullable=True),
        sa.Column("demand_share", sa.Float, nullable=True),
        sa.Column("lead_time_share", sa.Float, nullable=True),
        sa.Column("flags", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("inventory_policy_results")
    op.drop_table("inventory_run_snapshots")
    op.drop_index("inventory_policy_runs_in_force", table_name="inventory_policy_runs")
    op.drop_table("inventory_policy_runs")
    op.execute(
        "DROP TRIGGER IF EXISTS inventory_policy_versions_immutable ON inventory_policy_versions"
    )
    op.drop_table("inventory_policy_versions")
    op.execute("DROP FUNCTION IF EXISTS inventory_policy_version_is_immutable() CASCADE")
    op.drop_table("inventory_policies")
