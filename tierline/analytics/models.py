"""Commercial analytics' own state in the tenant schema (migrations t0030 to t0032): the
tenant's choices (which scheme the figures follow, the driver of each cost type, when a
customer counts as churned), the service surcharges and discounts, the pricing clauses of
contracts, the S&OP packs made (sealed) and who receives them. Figures are computed on demand
from the decrypted order history and never stored in clear, so a backup reveals no money
(DESIGN.md §5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

_DRIVER_CHECK = "IN ('lines', 'units', 'weight', 'value')"


class AnalyticsSettings(TenantBase):
    """One row (``id = 1``): the tenant's analytics choices."""

    __tablename__ = "analytics_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="ck_analytics_settings_single"),
        CheckConstraint(f"freight_driver {_DRIVER_CHECK}", name="ck_analytics_freight_driver"),
        CheckConstraint(f"handling_driver {_DRIVER_CHECK}", name="ck_analytics_handling_driver"),
        CheckConstraint(f"returns_driver {_DRIVER_CHECK}", name="ck_analytics_returns_driver"),
        CheckConstraint("churn_periods BETWEEN 1 AND 24", name="ck_analytics_churn_periods"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    scheme_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    freight_driver: Mapped[str] = mapped_column(String(10), default="units")
    handling_driver: Mapped[str] = mapped_column(String(10), default="lines")
    returns_driver: Mapped[str] = mapped_column(String(10), default="value")
    churn_periods: Mapped[int] = mapped_column(Integer, default=3)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class ServicePriceTerm(TenantBase):
    """A service surcharge (positive) or discount (negative) in basis points of the order
    value, for a segment of a customer scheme or for an entitlement feature, from
    ``valid_from`` until ``valid_to`` (open-ended when null)."""

    __tablename__ = "service_price_terms"
    __table_args__ = (
        CheckConstraint(
            "(segment IS NULL) <> (feature IS NULL)", name="ck_service_price_terms_target"
        ),
        CheckConstraint(
            "adjustment_bp BETWEEN -10000 AND 10000", name="ck_service_price_terms_range"
        ),
        CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name="ck_service_price_terms_period"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scheme_code: Mapped[str] = mapped_column(String(40))
    segment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    feature: Mapped[str | None] = mapped_column(String(40), nullable=True)
    adjustment_bp: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class ContractPriceClause(TenantBase):
    """The pricing clause of a customer's contract: the most it may be surcharged and the
    least discount it is guaranteed (basis points; null: not agreed)."""

    __tablename__ = "contract_price_clauses"
    __table_args__ = (
        CheckConstraint(
            "max_surcharge_bp IS NOT NULL OR min_discount_bp IS NOT NULL",
            name="ck_contract_price_clauses_some",
        ),
        CheckConstraint(
            "coalesce(max_surcharge_bp, 0) BETWEEN 0 AND 10000 "
            "AND coalesce(min_discount_bp, 0) BETWEEN 0 AND 10000",
            name="ck_contract_price_clauses_range",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_code: Mapped[str] = mapped_column(String(100))
    contract_reference: Mapped[str] = mapped_column(String(100), unique=True)
    max_surcharge_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_discount_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class ReportRun(TenantBase):
    """One S&OP pack made (on demand or on schedule): its month and both files, each sealed
    under the tenant's data key (bound to the run id), since they hold money (DESIGN.md §5)."""

    __tablename__ = "report_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report: Mapped[str] = mapped_column(String(20), default="sop_pack")
    month: Mapped[date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(12))
    requested_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[str] = mapped_column(Text, default="")
    xlsx_enc: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_enc: Mapped[bytes] = mapped_column(LargeBinary)


class ReportSubscription(TenantBase):
    """A user who receives a report by e-mail each time it is made on schedule."""

    __tablename__ = "report_subscriptions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    report: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _register_encrypted_columns() -> None:
    """The pack files: whole documents sealed as one value each, rewritten a few per key
    rotation transaction."""
    from tierline.platform.encryption.store import register_encrypted_column

    for kind in ("xlsx", "pdf"):
        register_encrypted_column(
            ReportRun, f"{kind}_enc", "id", ad_table="report_runs", ad_column=kind, batch_rows=8
        )


_register_encrypted_columns()
