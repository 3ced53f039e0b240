"""Network and supply tables in the tenant schema (migration t0025).

Quantities are in the product's base unit (an ERP file's own unit is converted on import and
kept in ``uom`` where the ERP needs it back: its planning parameters). Lead times are days,
counted on the lane's calendar (``calendar`` or ``working`` days).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from tierline.masterdata.models import Stamped
from tierline.platform.db import TenantBase

SOURCE_KINDS = ("supplier", "location")
CALENDARS = ("calendar", "working")
SUPPLY_KINDS = ("purchase_order", "transfer")
# SAP MRP types (MARC-DISMM) Tierline understands: PD deterministic MRP, VB manual reorder
# point, VM automatic reorder point, V1/V2 reorder point with external requirements, VV
# forecast-based, R1 time-phased (periodic review), ND no planning.
MRP_TYPES = ("PD", "VB", "VM", "V1", "V2", "VV", "R1", "ND")


class SourcingLane(Stamped, TenantBase):
    """A location is replenished from a supplier or an upstream location (``source_code``)."""

    __tablename__ = "sourcing_lanes"
    __table_args__ = (
        CheckConstraint("planned_lead_time_days >= 0", name="ck_sourcing_lanes_lead_time"),
    )

    location_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("locations.code"), primary_key=True
    )
    source_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(12))
    planned_lead_time_days: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    calendar: Mapped[str] = mapped_column(String(12), default="calendar")
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class OpenSupply(Stamped, TenantBase):
    """A purchase order or transfer line not yet received, due at a location on a date."""

    __tablename__ = "open_supply"
    __table_args__ = (Index("ix_open_supply_sku_location", "sku", "location_code"),)

    order_no: Mapped[str] = mapped_column(String(60), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"))
    location_code: Mapped[str] = mapped_column(String(100), ForeignKey("locations.code"))
    source_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    due_date: Mapped[date] = mapped_column(Date)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class DemandForecast(Stamped, TenantBase):
    """Expected demand of an SKU at a location over one period (optional input)."""

    __tablename__ = "demand_forecasts"

    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"), primary_key=True)
    location_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("locations.code"), primary_key=True
    )
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_days: Mapped[int] = mapped_column(Integer, default=7)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Promotion(Stamped, TenantBase):
    """A promotion lifting an SKU's demand at a location by ``uplift`` (0.3 = +30 %)."""

    __tablename__ = "promotions"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ck_promotions_dates"),)

    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"), primary_key=True)
    location_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("locations.code"), primary_key=True
    )
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date] = mapped_column(Date)
    uplift: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ErpParameters(Stamped, TenantBase):
    """The planning parameters the ERP runs on today for an SKU-location (SAP MARC):
    quantities in base units, ``uom`` the unit the ERP keeps them in (for write-back)."""

    __tablename__ = "erp_parameters"

    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"), primary_key=True)
    location_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("locations.code"), primary_key=True
    )
    mrp_type: Mapped[str] = mapped_column(String(4))
    reorder_point: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    safety_stock: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    planned_delivery_days: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    goods_receipt_days: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    days_basis: Mapped[str] = mapped_column(String(12), default="calendar")
    min_lot: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    lot_rounding: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    max_stock: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    uom: Mapped[str] = mapped_column(String(20))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
