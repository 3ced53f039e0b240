"""Service entitlements, contracts and escalation paths in the tenant schema (migration t0006).

Fractions (targets, minimum share) are stored 0..1; pages and the customer-facing dictionaries
show percent. Periods are half-open ``[from, to)``, ``to`` NULL meaning open-ended; the database
refuses two overlapping periods of one segment (one customer) on its own as well.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

FRACTION = Numeric(6, 5)
PERIODS = ("week", "month")
CHANNELS = ("in_app", "email")


class EntitlementVersion(TenantBase):
    """What a segment is promised from ``effective_from`` until (excluding) ``effective_to``."""

    __tablename__ = "entitlement_versions"
    __table_args__ = (
        UniqueConstraint("scheme_code", "segment_code", "version", name="uq_entitlement_version"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scheme_code: Mapped[str] = mapped_column(String(40), ForeignKey("segmentation_schemes.code"))
    segment_code: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    fill_rate_target: Mapped[Decimal] = mapped_column(FRACTION)
    otif_target: Mapped[Decimal] = mapped_column(FRACTION)
    perfect_order_target: Mapped[Decimal] = mapped_column(FRACTION)
    cycle_service_level: Mapped[Decimal] = mapped_column(FRACTION)
    quoted_lead_time_days: Mapped[int] = mapped_column(Integer)
    delivery_windows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    allocation_priority: Mapped[int] = mapped_column(Integer)
    allocation_min_share: Mapped[Decimal] = mapped_column(FRACTION, default=Decimal(0))
    picking_priority: Mapped[int] = mapped_column(Integer)
    transport_rules: Mapped[str | None] = mapped_column(Text, nullable=True)
    taxonomy_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    allow_below_lower_tier: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class Contract(TenantBase):
    """Service levels a customer is contractually owed; NULL minimums are not contracted."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_code: Mapped[str] = mapped_column(String(100), ForeignKey("customers.code"))
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    fill_rate_min: Mapped[Decimal | None] = mapped_column(FRACTION, nullable=True)
    otif_min: Mapped[Decimal | None] = mapped_column(FRACTION, nullable=True)
    perfect_order_min: Mapped[Decimal | None] = mapped_column(FRACTION, nullable=True)
    max_lead_time_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class EscalationStep(TenantBase):
    """Step ``step`` of a segment's escalation path: whom to notify after how many periods."""

    __tablename__ = "escalation_steps"

    scheme_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("segmentation_schemes.code"), primary_key=True
    )
    segment_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    notify: Mapped[str] = mapped_column(String(320))
    after_periods: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(String(6))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
