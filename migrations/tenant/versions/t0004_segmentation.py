"""Tenant schema: segmentation schemes, versions, runs, results, assignments, pending moves.

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-24

Published scheme versions are immutable (a trigger refuses UPDATE and DELETE), so a run's
recorded content hash always points at the document it used. Assignments are temporal; the
partial unique index allows exactly one open assignment per scheme and entity.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
KEY = sa.String(201)
SEG = sa.String(20)
EMAIL = sa.String(320)


def upgrade() -> None:
    op.create_table(
        "segmentation_schemes",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("draft_text", sa.Text, nullable=True),
        sa.Column("draft_updated_at", TS, nullable=True),
        sa.Column("draft_updated_by", EMAIL, nullable=True),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.Column("last_run_at", TS, nullable=True),
        sa.Column("next_run_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", EMAIL, nullable=True),
        sa.CheckConstraint(
            "entity IN ('customer','product','customer_product')", name="ck_scheme_entity"
        ),
    )
    op.create_table(
        "scheme_versions",
        sa.Column(
            "scheme_code",
            sa.String(40),
            sa.ForeignKey("segmentation_schemes.code"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("source_text", sa.Text, nullable=False),
        sa.Column("document", pg.JSONB, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("published_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("published_by", EMAIL, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.execute(
        """
        CREATE FUNCTION scheme_version_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'published scheme versions are immutable: % refused', TG_OP;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER scheme_versions_immutable BEFORE UPDATE OR DELETE ON scheme_versions "
        "FOR EACH ROW EXECUTE FUNCTION scheme_version_is_immutable()"
    )
    op.create_table(
        "segmentation_runs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "scheme_code",
            sa.String(40),
            sa.ForeignKey("segmentation_schemes.code"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("engine_version", sa.String(20), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("requested_by", EMAIL, nullable=True),
        sa.Column("job_id", sa.String(120), nullable=True, unique=True),
        sa.Column("started_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("inputs", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("counts", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("warnings", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("message", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('succeeded','refused','failed')", name="ck_run_status"),
    )
    op.create_index(
        "ix_segmentation_runs_scheme", "segmentation_runs", ["scheme_code", "started_at"]
    )
    op.create_table(
        "run_snapshots",
        sa.Column(
            "run_id",
            sa.Uuid,
            sa.ForeignKey("segmentation_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("features", sa.LargeBinary, nullable=False),
        sa.Column("results_digest", sa.String(80), nullable=False),
    )
    op.create_table(
        "run_results",
        sa.Column(
            "run_id",
            sa.Uuid,
            sa.ForeignKey("segmentation_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("entity_key", KEY, primary_key=True),
        sa.Column("segment", SEG, nullable=False),
        sa.Column("previous_segment", SEG, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("abc", sa.String(1), nullable=True),
        sa.Column("xyz", sa.String(1), nullable=True),
        sa.Column("cum_share", sa.Float, nullable=True),
        sa.Column("cv", sa.Float, nullable=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("defaults_used", pg.ARRAY(sa.String(80)), nullable=False, server_default="{}"),
    )
    op.create_index("ix_run_results_outcome", "run_results", ["run_id", "outcome"])
    op.create_table(
        "segment_assignments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "scheme_code",
            sa.String(40),
            sa.ForeignKey("segmentation_schemes.code"),
            nullable=False,
        ),
        sa.Column("entity_key", KEY, nullable=False),
        sa.Column("customer_code", sa.String(100), nullable=True),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("segment", SEG, nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_to", TS, nullable=True),
        sa.Column("run_id", sa.Uuid, nullable=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_by", EMAIL, nullable=True),
        sa.CheckConstraint(
            "source IN ('rule','exception','override','manual')", name="ck_assignment_source"
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_assignment_period"
        ),
    )
    op.create_index(
        "ux_segment_assignments_open",
        "segment_assignments",
        ["scheme_code", "entity_key"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index(
        "ix_segment_assignments_history",
        "segment_assignments",
        ["scheme_code", "entity_key", "valid_from"],
    )
    op.create_index("ix_segment_assignments_customer", "segment_assignments", ["customer_code"])
    op.create_index("ix_segment_assignments_sku", "segment_assignments", ["sku"])
    op.create_table(
        "segment_candidates",
        sa.Column("scheme_code", sa.String(40), primary_key=True),
        sa.Column("entity_key", KEY, primary_key=True),
        sa.Column("candidate_segment", SEG, nullable=False),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("last_run_id", sa.Uuid, nullable=False),
    )
    op.create_table(
        "pending_moves",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Uuid, sa.ForeignKey("segmentation_runs.id"), nullable=False),
        sa.Column("scheme_code", sa.String(40), nullable=False),
        sa.Column("entity_key", KEY, nullable=False),
        sa.Column("customer_code", sa.String(100), nullable=True),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("from_segment", SEG, nullable=True),
        sa.Column("to_segment", SEG, nullable=False),
        sa.Column("reasons", pg.ARRAY(sa.String(40)), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("decided_by", EMAIL, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','applied','rejected','superseded')", name="ck_move_status"
        ),
    )
    op.create_index("ix_pending_moves_status", "pending_moves", ["status", "scheme_code"])
    op.create_index(
        "ux_pending_moves_open",
        "pending_moves",
        ["scheme_code", "entity_key"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    for table in (
        "pending_moves",
        "segment_candidates",
        "segment_assignments",
        "run_results",
        "run_snapshots",
        "segmentation_runs",
    ):
        op.drop_table(table)
    op.execute("DROP TRIGGER IF EXISTS scheme_versions_immutable ON scheme_versions")
    op.drop_table("scheme_versions")
    op.execute("DROP FUNCTION IF EXISTS scheme_version_is_immutable() CASCADE")
    op.drop_table("segmentation_schemes")
