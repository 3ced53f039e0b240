"""The control plane's registry: regions and tenants, and the control database's migrations.

The chassis resolves every request's tenant against these rows (``tenant_directory``); the
tenant lifecycle (``tierline.tenants``) writes them. No personal or transaction data here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.alembic_runner import head_revision, run_upgrade
from tierline.platform.databases import Databases
from tierline.platform.db import ControlBase, utcnow

TENANT_STATUSES = ("provisioning", "active", "suspended")


class Region(ControlBase):
    __tablename__ = "regions"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tenant(ControlBase):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(ForeignKey("regions.name"), index=True)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="provisioning")
    status_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenant_groups.id"), nullable=True
    )
    schema_revision: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


async def ensure_region_rows(databases: Databases) -> None:
    """Record every configured region in the control plane (idempotent)."""
    async with databases.control.begin() as conn:
        for name in databases.region_names:
            await conn.execute(
                pg_insert(Region).values(name=name, created_at=utcnow()).on_conflict_do_nothing()
            )


async def _control_version(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = (await conn.execute(text("SELECT to_regclass('public.alembic_version')"))).scalar()
        if exists is None:
            return None
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()


async def migrate_control(databases: Databases) -> tuple[str | None, str]:
    before = await _control_version(databases.control)
    head = head_revision("control")
    if before != head:
        async with databases.control.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('tierline:control'))"))
            await run_upgrade(conn, "control", None)
    return before, head
