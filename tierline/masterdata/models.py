"""Master data and order history in the tenant schema (migration t0003): the tables every
capability reads. Tables of one capability live beside it (``importing.models``,
``profiles.models``, ``golden.models``).

Revenue, margin and cost columns hold ciphertext only (``*_enc``); they are registered with the
field codec so key rotation re-encrypts them. ``row_hash`` is a keyed hash of a record's source
values: an import that brings nothing new changes no row.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow

ACCOUNT_TYPES = ("global", "parent", "sold_to", "ship_to")
LIFECYCLES = ("active", "npi", "promotional", "one_time_project", "phase_out")
LOCATION_KINDS = ("plant", "dc", "warehouse", "store")


class Stamped:
    """When a row was created and last changed."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Customer(Stamped, TenantBase):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    account_type: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    global_account_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    region: Mapped[str | None] = mapped_column(String(40), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    postal_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(40), nullable=True)
    strategic: Mapped[bool] = mapped_column(Boolean, default=False)
    crm_tier: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account_manager_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    business_unit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    scope: Mapped[str] = mapped_column(String(40), default="*")
    tax_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    duns: Mapped[str | None] = mapped_column(String(20), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class Product(Stamped, TenantBase):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500))
    product_line: Mapped[str | None] = mapped_column(String(100), nullable=True)
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    base_uom: Mapped[str] = mapped_column(String(20))
    lifecycle: Mapped[str] = mapped_column(String(20), default="active")
    launch_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    business_unit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    scope: Mapped[str] = mapped_column(String(40), default="*")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class UomConversion(TenantBase):
    """How many base units one ``uom`` of a product holds: ``factor / denominator``, kept as
    the two numbers the ERP sends (SAP ``UMREZ`` / ``UMREN``) so 10/9 or 1/24 stay exact (the
    base unit itself is implicit)."""

    __tablename__ = "uom_conversions"
    __table_args__ = (
        CheckConstraint("factor > 0 AND denominator > 0", name="ck_uom_conversions_positive"),
    )

    sku: Mapped[str] = mapped_column(
        String(100), ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    uom: Mapped[str] = mapped_column(String(20), primary_key=True)
    factor: Mapped[Decimal] = mapped_column(Numeric(20, 8))
    denominator: Mapped[Decimal] = mapped_column(Numeric(20, 8), default=Decimal(1))  # t0014


class Location(Stamped, TenantBase):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(12))
    echelon: Mapped[int] = mapped_column(SmallInteger, default=1)
    capacity: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    region: Mapped[str | None] = mapped_column(String(40), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    scope: Mapped[str] = mapped_column(String(40), default="*")
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Supplier(Stamped, TenantBase):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class OrderLine(Stamped, TenantBase):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(60))
    line_no: Mapped[int] = mapped_column(Integer)
    customer_code: Mapped[str] = mapped_column(String(100))  # checked by imports, no FK (t0003)
    sku: Mapped[str] = mapped_column(String(100))
    location_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    order_date: Mapped[date] = mapped_column(Date)
    requested_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    ordered_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    ordered_uom: Mapped[str] = mapped_column(String(20))
    revenue_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    margin_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    margin_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    promised_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    shipped_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    delivered_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    delivered_quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), nullable=True)
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    documentation_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class InventoryPosition(Stamped, TenantBase):
    __tablename__ = "inventory_positions"

    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"), primary_key=True)
    location_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("locations.code"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    on_order: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class LeadTime(Stamped, TenantBase):
    __tablename__ = "lead_times"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), ForeignKey("products.sku"))
    location_code: Mapped[str] = mapped_column(String(100), ForeignKey("locations.code"))
    supplier_code: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("suppliers.code"), nullable=True
    )
    ordered_on: Mapped[date] = mapped_column(Date)
    received_on: Mapped[date] = mapped_column(Date)
    lead_time_days: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class CostToServe(Stamped, TenantBase):
    __tablename__ = "cost_to_serve"

    customer_code: Mapped[str] = mapped_column(
        String(100), ForeignKey("customers.code"), primary_key=True
    )
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    freight_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    handling_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    returns_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class CustomerSource(TenantBase):
    """One customer record as a source system (sales, logistics, finance) sent it."""

    __tablename__ = "customer_sources"

    source_system: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_code: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("customers.code", ondelete="SET NULL"), nullable=True
    )
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class ProductSource(TenantBase):
    __tablename__ = "product_sources"

    source_system: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("products.sku", ondelete="SET NULL"), nullable=True
    )
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source_updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class Feed(TenantBase):
    """A data feed (entity from a source system): when it last loaded, how fresh it is."""

    __tablename__ = "feeds"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    source_system: Mapped[str] = mapped_column(String(40))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    newest_source_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    staleness_hours: Mapped[int] = mapped_column(Integer, default=24)
    steward_email: Mapped[str | None] = mapped_column(String(320), nullable=True)


def _register_encrypted_columns() -> None:
    """Money columns, sealed by imports with the natural key as row key (``order/line``)."""
    from tierline.platform.encryption.store import register_encrypted_column

    for money in ("revenue", "margin"):
        register_encrypted_column(
            OrderLine,
            f"{money}_enc",
            ("order_no", "line_no"),
            ad_table="order_lines",
            ad_column=money,
        )
    for cost in ("freight", "handling", "returns"):
        register_encrypted_column(
            CostToServe,
            f"{cost}_enc",
            ("customer_code", "period_start"),
            ad_table="cost_to_serve",
            ad_column=cost,
        )


_register_encrypted_columns()
