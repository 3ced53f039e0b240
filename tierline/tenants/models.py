"""Control-plane tables of the tenant lifecycle: tenant groups (subsidiaries sharing a taxonomy).

Regions and tenants themselves are the chassis' registry (``tierline.platform.control_plane``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import ControlBase, utcnow


class TenantGroup(ControlBase):
    """An enterprise whose subsidiaries (tenants) share a harmonized segment taxonomy."""

    __tablename__ = "tenant_groups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
