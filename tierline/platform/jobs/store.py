"""Reading and writing job rows, in the control plane or in a tenant's schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.db import utcnow
from tierline.platform.jobs.models import ControlJob, JobColumns, TenantJob
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def control_session_factory(runtime: Runtime) -> SessionFactory:
    @asynccontextmanager
    async def open_session() -> AsyncIterator[AsyncSession]:
        async with runtime.databases.control.connect() as conn, conn.begin():
            session = AsyncSession(bind=conn, expire_on_commit=False)
            try:
                yield session
                await session.flush()
            finally:
                await session.close()

    return open_session


def tenant_session_factory(runtime: Runtime, tenant: TenantRef) -> SessionFactory:
    return lambda: tenant_session(tenant, runtime.databases)


class JobStore:
    """Job rows of one table; every change is its own short transaction so the UI sees it."""

    def __init__(self, model: type[ControlJob] | type[TenantJob], sessions: SessionFactory):
        self.model = model
        self.sessions = sessions

    @classmethod
    def for_scope(cls, runtime: Runtime, tenant: TenantRef | None) -> JobStore:
        if tenant is None:
            return cls(ControlJob, control_session_factory(runtime))
        return cls(TenantJob, tenant_session_factory(runtime, tenant))

    async def create(
        self, job_id: str, kind: str, params: dict[str, Any], created_by: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Insert a queued row unless one exists; a failed row is queued again.

        Returns the row and whether it needs enqueuing.
        """
        async with self.sessions() as s:
            await s.execute(
                pg_insert(self.model)
                .values(
                    id=job_id,
                    kind=kind,
                    status="queued",
                    progress=0.0,
                    message="queued",
                    params=params,
                    attempts=0,
                    created_by=created_by,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            row = cast(JobColumns | None, await s.get(self.model, job_id, with_for_update=True))
            assert row is not None
            needs_enqueue = row.status == "queued" and row.enqueued_at is None
            if row.status == "failed":
                row.status, row.error, row.progress, row.message = "queued", None, 0.0, "queued"
                row.error_code = None
                needs_enqueue = True
            return row.as_dict(), needs_enqueue

    async def mark_enqueued(self, job_id: str) -> None:
        async with self.sessions() as s:
            await s.execute(
                update(self.model).where(self.model.id == job_id).values(enqueued_at=utcnow())
            )

    async def start(self, job_id: str) -> JobColumns | None:
        """Claim the row for a run; None when it is unknown or already finished."""
        async with self.sessions() as s:
            row = cast(JobColumns | None, await s.get(self.model, job_id, with_for_update=True))
            if row is None or row.status in ("succeeded", "failed"):
                return None
            row.status, row.attempts, row.started_at = "running", row.attempts + 1, utcnow()
            row.message = "running"
            await s.flush()
            s.expunge(row)
            return row

    async def progress(self, job_id: str, fraction: float, message: str) -> None:
        async with self.sessions() as s:
            await s.execute(
                update(self.model)
                .where(self.model.id == job_id)
                .values(progress=fraction, message=message[:500])
            )

    async def finish(
        self,
        job_id: str,
        status: str,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """Record the outcome; ``error`` is shown to clients, so it names no internals."""
        values: dict[str, Any] = {
            "status": status,
            "result": result,
            "error": error,
            "error_code": error_code if error is not None else None,
        }
        if status in ("succeeded", "failed"):
            values["finished_at"] = utcnow()
        if status == "succeeded":
            values.update(progress=1.0, message="done")
        elif status == "queued":
            values.update(message=f"retrying: {error}"[:500], enqueued_at=utcnow())
        else:
            values["message"] = "failed"
        async with self.sessions() as s:
            await s.execute(update(self.model).where(self.model.id == job_id).values(**values))

    async def hand_back(self, job_id: str) -> None:
        """Return a running row to the queue without counting the interrupted attempt (its
        worker stopped; its transaction rolled back)."""
        async with self.sessions() as s:
            await s.execute(
                update(self.model)
                .where(self.model.id == job_id, self.model.status == "running")
                .values(
                    status="queued",
                    attempts=self.model.attempts - 1,
                    message="handed back: the worker stopped; another worker resumes it",
                    enqueued_at=utcnow(),
                )
            )

    async def get(self, job_id: str) -> dict[str, Any] | None:
        async with self.sessions() as s:
            row = cast(JobColumns | None, await s.get(self.model, job_id))
            return None if row is None else row.as_dict()

    async def unqueued(self, older_than_seconds: float) -> list[str]:
        """Queued rows never handed to Redis, or handed over long ago (lost in an outage)."""
        from datetime import timedelta

        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        async with self.sessions() as s:
            rows = await s.execute(
                select(self.model.id).where(
                    self.model.status == "queued",
                    (self.model.enqueued_at.is_(None)) | (self.model.enqueued_at < cutoff),
                )
            )
            return [r[0] for r in rows]
