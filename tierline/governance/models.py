"""Governance state in the tenant schema (migration t0007): override requests, customer notices.

An override request is the maker-checker record of a manual segment change: who asked, why, with
what evidence, until when, and who decided. Once approved it points at the ``override``
assignment it opened. A customer notice is the customer-facing record of a segment or
entitlement change (what the portal lists); it holds only customer-safe values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

REQUEST_STATUSES = ("pending", "approved", "rejected", "expired", "reverted", "cancelled")
NOTICE_KINDS = ("segment_change", "entitlement_change", "override", "override_expired")


class OverrideRequest(TenantBase):
    __tablename__ = "override_requests"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scheme_code: Mapped[str] = mapped_column(String(40), ForeignKey("segmentation_schemes.code"))
    entity_key: Mapped[str] = mapped_column(String(201))
    customer_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    from_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_segment: Mapped[str] = mapped_column(String(20))
    tier_jump: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSONB, default=list)
    expires_on: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(40), default="*")
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    conflicts_acknowledged: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True)
    assignment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("segment_assignments.id"), nullable=True
    )
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CustomerNotice(TenantBase):
    __tablename__ = "customer_notices"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_code: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    scheme_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    effective_date: Mapped[date] = mapped_column(Date)
    old_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    new_segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    old_entitlements: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    new_entitlements: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
