"""Commercial analytics' own state in the tenant schema (migrations t0030, t0031): the
tenant's choices (which scheme the figures follow, the driver of each cost type, when a
customer counts as churned), the service surcharges and discounts, and the pricing clauses of
contracts. Figures themselves are computed on demand from the decrypted order history and never
stored, so a backup reveals no money (DESIGN.md §5)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
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
