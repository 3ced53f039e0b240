"""KPI definitions, stored counts, the computation state and alerts in the tenant schema (t0016).

``kpi_cells`` holds the engine's additive counts per grain (week, month) x period x customer x
product x location x segment, and which definition version computed them (no primary key: a
computation replaces whole periods under a lock, so cells are unique by construction);
``kpi_rollups`` the same summed by segment and the customer and product dimensions; every KPI of any
roll-up is computed from their sums, so nothing stored is a rate that could not be re-added.
No money is stored here (DESIGN.md section 5): the counts are quantities and dates only.

``kpi_alerts``: one open (or acknowledged) alert per scheme, segment, KPI, grain and rule, held
by a partial unique index, so evaluating twice never opens two.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.monitoring.engine import COUNTS
from tierline.platform.db import TenantBase, utcnow

ALERT_STATES = ("open", "acknowledged", "resolved")


class KpiDefinitionVersion(TenantBase):
    __tablename__ = "kpi_definitions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class KpiState(TenantBase):
    """What the stored counts reflect: the scheme, the definition, the order lines seen."""

    __tablename__ = "kpi_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    scheme_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    definition_version: Mapped[int] = mapped_column(Integer)
    lines_seen_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    as_of: Mapped[date] = mapped_column(Date)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    periods: Mapped[int] = mapped_column(Integer, default=0)


class KpiAlert(TenantBase):
    __tablename__ = "kpi_alerts"
    __table_args__ = (
        Index(
            "uq_kpi_alerts_live",
            "scheme_code",
            "segment",
            "kpi",
            "grain",
            "rule",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scheme_code: Mapped[str] = mapped_column(String(40))
    segment: Mapped[str] = mapped_column(String(20))
    kpi: Mapped[str] = mapped_column(String(40))
    grain: Mapped[str] = mapped_column(String(5))
    rule: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), default="open")
    first_period: Mapped[date] = mapped_column(Date)
    last_period: Mapped[date] = mapped_column(Date)
    periods_below: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    target: Mapped[float | None] = mapped_column(Float, nullable=True)
    step_reached: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledge_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolve_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


def _cells_table() -> Any:
    from sqlalchemy import Column, Table

    columns: list[Any] = [
        Column("grain", String(5), nullable=False),
        Column("period_start", Date, nullable=False),
        Column("customer_code", String(100), nullable=False),
        Column("sku", String(100), nullable=False),
        Column("location_code", String(100), nullable=False),
        Column("segment", String(20), nullable=False),
        Column("definition_version", Integer, nullable=False),
        *[Column(name, BigInteger, nullable=False) for name in COUNTS],
        Index("ix_kpi_cells_period", "grain", "period_start"),
    ]
    return Table("kpi_cells", TenantBase.metadata, *columns)


def _rollups_table() -> Any:
    from sqlalchemy import Column, Table

    columns: list[Any] = [
        Column("grain", String(5), nullable=False),
        Column("period_start", Date, nullable=False),
        *[Column(name, String(size), nullable=False) for name, size in ROLLUP_DIMENSIONS.items()],
        *[Column(name, BigInteger, nullable=False) for name in COUNTS],
        Index("ix_kpi_rollups_period", "grain", "period_start"),
    ]
    return Table("kpi_rollups", TenantBase.metadata, *columns)


ROLLUP_DIMENSIONS = {
    "segment": 20,
    "region": 40,
    "channel": 40,
    "business_unit": 40,
    "product_line": 100,
    "scope": 40,
}
KPI_CELLS = _cells_table()
KPI_ROLLUPS = _rollups_table()
