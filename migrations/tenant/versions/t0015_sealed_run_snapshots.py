"""Tenant schema: run snapshots are sealed under the tenant's data key.

Revision ID: t0015
Revises: t0014
Create Date: 2026-12-08

A classification run's archived feature snapshot (``run_snapshots.features``) held per-entity
revenue, margin and margin % as Parquet in clear. New runs write it sealed (AES-256-GCM under
the tenant's data key, bound to the run). The column keeps its type; this revision documents
the new content, and ``tierline migrate`` seals the snapshots older releases wrote in its data
step for segmentation (``segmentation.runs.snapshots.seal_plaintext_snapshots``), which needs
the tenant's key and so cannot be SQL. A tenant is recorded at this revision only once that step
has succeeded.
"""

from __future__ import annotations

from alembic import op

revision = "t0015"
down_revision = "t0014"
branch_labels = None
depends_on = None

SEALED = (
    "The features a run classified: Parquet sealed with the data key of the tenant (AES-256-GCM, "
    "bound to run_snapshots/features/run id); older clear Parquet is sealed by tierline migrate."
)


def upgrade() -> None:
    op.execute(f"COMMENT ON COLUMN run_snapshots.features IS '{SEALED}'")


def downgrade() -> None:
    op.execute("COMMENT ON COLUMN run_snapshots.features IS NULL")
