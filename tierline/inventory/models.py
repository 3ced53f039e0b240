"""Inventory policy state in the tenant schema (migration t0020).

A policy document is edited as a draft and published as an immutable version with a content
hash (a trigger refuses updates and deletes), like segmentation schemes. A policy run computes
one result row per SKU-location from a published version and writes them, its archived inputs
and its status in one transaction; the run in force is the latest one with ``in_force_from``
set (a run whose changes exceed the tenant's threshold waits for approval without it).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

RUN_STATUSES = ("succeeded", "pending_approval", "rejected", "refused", "failed")


class InventoryPolicy(TenantBase):
    """A policy document's identity, its editable draft and the version in force."""

    __tablename__ = "inventory_policies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    draft_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    draft_updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class InventoryPolicyVersion(TenantBase):
    """A published, immutable version of a policy document."""

    __tablename__ = "inventory_policy_versions"

    policy_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("inventory_policies.code"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class InventoryPolicyRun(TenantBase):
    """One computation of a policy version over the tenant's history."""

    __tablename__ = "inventory_policy_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    policy_code: Mapped[str] = mapped_column(String(40), ForeignKey("inventory_policies.code"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(80))
    engine_version: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(12))
    requested_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    in_force_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSONB, default=list)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class InventoryRunSnapshot(TenantBase):
    """The statistics a run computed from (Parquet), so ``inventory verify`` can recompute it.
    Units and days only: no money, nothing to seal."""

    __tablename__ = "inventory_run_snapshots"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("inventory_policy_runs.id", ondelete="CASCADE"), primary_key=True
    )
    statistics: Mapped[bytes] = mapped_column(LargeBinary)
    results_digest: Mapped[str] = mapped_column(String(80))


class InventoryPolicyResult(TenantBase):
    """One SKU-location's policy numbers and everything needed to explain them."""

    __tablename__ = "inventory_policy_results"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("inventory_policy_runs.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    location_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    segment_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    target_rule: Mapped[str] = mapped_column(String(20))
    policy_type: Mapped[str] = mapped_column(String(12))
    service_measure: Mapped[str] = mapped_column(String(20))
    service_target: Mapped[float | None] = mapped_column(Float, nullable=True)
    base_uom: Mapped[str | None] = mapped_column(String(20), nullable=True)
    demand_class: Mapped[str] = mapped_column(String(12))
    distribution: Mapped[str] = mapped_column(String(8))
    periods: Mapped[int] = mapped_column(Integer)
    zero_periods: Mapped[int] = mapped_column(Integer)
    demand_mean: Mapped[float] = mapped_column(Float)
    demand_sd: Mapped[float] = mapped_column(Float)
    lead_time_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    lead_time_sd: Mapped[float | None] = mapped_column(Float, nullable=True)
    lead_time_source: Mapped[str] = mapped_column(String(12))
    lead_time_observations: Mapped[int] = mapped_column(Integer)
    review_period: Mapped[float] = mapped_column(Float)
    order_quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    sigma: Mapped[float | None] = mapped_column(Float, nullable=True)
    k: Mapped[float | None] = mapped_column(Float, nullable=True)
    safety_stock: Mapped[float | None] = mapped_column(Float, nullable=True)
    reorder_point: Mapped[float | None] = mapped_column(Float, nullable=True)
    order_up_to: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_fill_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_cycle_service_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_on_hand: Mapped[float | None] = mapped_column(Float, nullable=True)
    demand_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    lead_time_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    flags: Mapped[int] = mapped_column(Integer, default=0)
