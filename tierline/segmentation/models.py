"""Segmentation state in the tenant schema (migration t0004).

Assignments are temporal: a move closes the current row (``valid_to``) and opens a new one, so
every past classification stays visible. A run writes its results, moves and assignments in
the same transaction that marks it finished; a crashed run leaves only its job row behind.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

ENTITY_KINDS = ("customer", "product", "customer_product")
RUN_STATUSES = ("succeeded", "refused", "failed")
ASSIGNMENT_SOURCES = ("rule", "exception", "override", "manual")
MOVE_STATUSES = ("pending", "applied", "rejected", "superseded")


class SegmentationScheme(TenantBase):
    """A scheme's identity, its editable draft and the version currently in force."""

    __tablename__ = "segmentation_schemes"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    draft_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    draft_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    draft_updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class SchemeVersion(TenantBase):
    """A published, immutable version (a trigger refuses updates and deletes)."""

    __tablename__ = "scheme_versions"

    scheme_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("segmentation_schemes.code"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_text: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class SegmentationRun(TenantBase):
    __tablename__ = "segmentation_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    scheme_code: Mapped[str] = mapped_column(String(40), ForeignKey("segmentation_schemes.code"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(80))
    engine_version: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    trigger: Mapped[str] = mapped_column(String(12))
    requested_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSONB, default=list)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class RunSnapshot(TenantBase):
    """The features a run classified (Parquet), so ``segment verify`` can recompute it."""

    __tablename__ = "run_snapshots"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("segmentation_runs.id", ondelete="CASCADE"), primary_key=True
    )
    features: Mapped[bytes] = mapped_column(LargeBinary)
    results_digest: Mapped[str] = mapped_column(String(80))


class RunResult(TenantBase):
    __tablename__ = "run_results"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("segmentation_runs.id", ondelete="CASCADE"), primary_key=True
    )
    entity_key: Mapped[str] = mapped_column(String(201), primary_key=True)
    segment: Mapped[str] = mapped_column(String(20))
    previous_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))
    abc: Mapped[str | None] = mapped_column(String(1), nullable=True)
    xyz: Mapped[str | None] = mapped_column(String(1), nullable=True)
    cum_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    cv: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(12))
    rule: Mapped[str] = mapped_column(String(200))
    defaults_used: Mapped[list[str]] = mapped_column(ARRAY(String(80)), default=list)


class SegmentAssignment(TenantBase):
    __tablename__ = "segment_assignments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scheme_code: Mapped[str] = mapped_column(String(40), ForeignKey("segmentation_schemes.code"))
    entity_key: Mapped[str] = mapped_column(String(201))
    customer_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    segment: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    source: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class SegmentCandidate(TenantBase):
    """Hysteresis state: the segment an entity would move to, and for how many runs in a row."""

    __tablename__ = "segment_candidates"

    scheme_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(201), primary_key=True)
    candidate_segment: Mapped[str] = mapped_column(String(20))
    streak: Mapped[int] = mapped_column(Integer)
    last_run_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class PendingMove(TenantBase):
    __tablename__ = "pending_moves"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("segmentation_runs.id"))
    scheme_code: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(201))
    customer_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    from_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_segment: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    source: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


def _register_encrypted_columns() -> Any:
    """The archived feature snapshot holds revenue, margin and margin % per entity: the whole
    Parquet document is sealed as one value bound to its run (row key: the run id), and key
    rotation rewrites it a few snapshots per transaction (each may be megabytes)."""
    from tierline.platform.encryption.store import register_encrypted_column

    return register_encrypted_column(RunSnapshot, "features", "run_id", batch_rows=8)


SNAPSHOT_FEATURES = _register_encrypted_columns()
