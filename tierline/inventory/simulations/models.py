"""Stored simulations (migration t0027): what was replayed and what came out per segment.
Units, rates and counts only: no money, nothing to seal."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Identity, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow


class InventorySimulation(TenantBase):
    __tablename__ = "inventory_simulations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    policy_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    policy_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    as_of: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    sku_locations: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    comparison: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    calibration: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    shortfalls: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    flags: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
