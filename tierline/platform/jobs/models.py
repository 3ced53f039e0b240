"""Job records: status and progress of every background job, for the UI and for idempotency.

Tenant jobs live in the tenant's own ``jobs`` table; platform jobs that run before a tenant
exists (provisioning) live in the control plane's ``control_jobs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tierline.platform.db import ControlBase, TenantBase, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class JobColumns:
    """The columns shared by both job tables."""

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "result": self.result,
            **self.error_fields(),
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

    def error_fields(self) -> dict[str, str | None]:
        """The error as clients see it: a stable code and a message meant for people. A row
        that failed before codes were kept shows no text (it may hold internals)."""
        if self.error is None:
            return {"error": None, "error_code": None}
        if self.error_code is None:
            return {"error": "The job failed; no details were kept.", "error_code": "unknown"}
        return {"error": self.error, "error_code": self.error_code}


class TenantJob(JobColumns, TenantBase):
    __tablename__ = "jobs"


class ControlJob(JobColumns, ControlBase):
    __tablename__ = "control_jobs"
