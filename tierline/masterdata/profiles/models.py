"""Mapping profiles a tenant saved (migration t0003)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tierline.masterdata.models import Stamped
from tierline.platform.db import TenantBase


class MappingProfile(Stamped, TenantBase):
    """How a source system's export maps onto a Tierline entity (columns and file options)."""

    __tablename__ = "mapping_profiles"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    entity: Mapped[str] = mapped_column(String(30))
    source_system: Mapped[str] = mapped_column(String(40), default="erp")
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    columns: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
