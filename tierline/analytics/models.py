"""Commercial analytics' own state in the tenant schema (migration t0030): the tenant's choices
(which scheme the figures follow, the driver of each cost type, when a customer counts as
churned). Figures themselves are computed on demand from the decrypted order history and never
stored, so a backup reveals no money (DESIGN.md §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, SmallInteger, String
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
