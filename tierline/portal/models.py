"""Portal tables (migration t0008): the tenant's portal branding, one row at most."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import TenantBase, utcnow


class PortalBranding(TenantBase):
    __tablename__ = "portal_branding"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    display_name: Mapped[str] = mapped_column(String(200))
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    primary_colour: Mapped[str] = mapped_column(String(7))
    accent_colour: Mapped[str] = mapped_column(String(7))
    support_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    updated_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
