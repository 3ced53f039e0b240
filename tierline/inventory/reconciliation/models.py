"""Reconciliations in the tenant schema (migration t0026): one header per comparison and one
row per SKU-location. The money at stake (inventory value delta) is sealed like the order
lines it is derived from; rows keep only its rank, so the page sorts by it without opening
every value, and a backup reveals no money."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

STATUSES = ("open", "pending_approval", "approved", "rejected")


class ErpReconciliation(TenantBase):
    __tablename__ = "erp_reconciliations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    costs_known: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ErpReconciliationRow(TenantBase):
    __tablename__ = "erp_reconciliation_rows"
    __table_args__ = (Index("ix_erp_reconciliation_rows_stake", "reconciliation_id", "stake_rank"),)

    reconciliation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("erp_reconciliations.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    location_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    segment_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    policy_type: Mapped[str | None] = mapped_column(String(12), nullable=True)
    erp_mrp_type: Mapped[str | None] = mapped_column(String(4), nullable=True)
    proposed_mrp_type: Mapped[str | None] = mapped_column(String(4), nullable=True)
    base_uom: Mapped[str | None] = mapped_column(String(20), nullable=True)
    erp_uom: Mapped[str | None] = mapped_column(String(20), nullable=True)
    factor: Mapped[float | None] = mapped_column(Float, nullable=True)
    erp_safety_stock: Mapped[float | None] = mapped_column(Float, nullable=True)
    rec_safety_stock: Mapped[float | None] = mapped_column(Float, nullable=True)
    erp_reorder_point: Mapped[float | None] = mapped_column(Float, nullable=True)
    rec_reorder_point: Mapped[float | None] = mapped_column(Float, nullable=True)
    erp_lead_time_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    rec_lead_time_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    days_basis: Mapped[str | None] = mapped_column(String(12), nullable=True)
    lane_calendar: Mapped[str | None] = mapped_column(String(12), nullable=True)
    proposed_safety_stock: Mapped[float | None] = mapped_column(Float, nullable=True)
    proposed_reorder_point: Mapped[float | None] = mapped_column(Float, nullable=True)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    stake_rank: Mapped[int] = mapped_column(Integer)
    value_delta_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


def _register_encrypted_columns() -> None:
    from tierline.platform.encryption.store import register_encrypted_column

    register_encrypted_column(
        ErpReconciliationRow,
        "value_delta_enc",
        ("reconciliation_id", "sku", "location_code"),
        ad_table="erp_reconciliation_rows",
        ad_column="value_delta",
    )


_register_encrypted_columns()
