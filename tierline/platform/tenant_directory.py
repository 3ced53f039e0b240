"""Tenant resolution: which tenants exist, and the cached slug-to-tenant directory requests use."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tierline.platform.alembic_runner import head_revision
from tierline.platform.control_plane import Tenant
from tierline.platform.databases import Databases
from tierline.platform.db import validate_slug
from tierline.platform.errors import DomainError
from tierline.platform.tenancy import TenantNotFound, TenantRef


@dataclass(frozen=True)
class TenantInfo:
    slug: str
    name: str
    region: str
    schema: str
    status: str
    revision: str | None
    created_at: datetime


async def list_tenants(databases: Databases) -> list[TenantInfo]:
    async with databases.control.connect() as conn:
        rows = (await conn.execute(select(Tenant).order_by(Tenant.slug))).all()
    return [
        TenantInfo(
            slug=r.slug,
            name=r.name,
            region=r.region,
            schema=r.schema_name,
            status=r.status,
            revision=r.schema_revision,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _retrieve(task: asyncio.Future[TenantRef | None]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved; callers awaiting the task still see it


class TenantBehind(DomainError):
    """The tenant's schema is older than this code: it is refused until ``tierline migrate``
    has brought it to head (rather than served by code that expects tables it lacks)."""

    status_code = 503
    title = "Workspace being upgraded"

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"workspace '{slug}' is being upgraded to a new version of Tierline; "
            "try again in a few minutes"
        )


class TenantDirectory:
    """Resolves slugs to active tenants, with a short cache so requests skip the control DB.

    The cache lives seconds, so a suspended tenant stops being served promptly everywhere: an
    answer is used at most ``ttl_seconds`` after the query that produced it began. While a
    tenant is in use its entry is re-read in the background before it runs out (at a random
    point of its second half, a few re-reads at a time, so tenants loaded together are not
    re-read in one burst), and requests do not wait for the control database; one query per
    slug runs at a time, shared by every request that needs it meanwhile.
    """

    BACKGROUND_READS = 2  # re-reads running at once (the rest queue; entries stay valid)

    def __init__(self, databases: Databases, ttl_seconds: float = 10.0) -> None:
        self._databases = databases
        self._ttl = ttl_seconds
        # slug -> (expires, refresh from, tenant); monotonic times
        self._cache: dict[str, tuple[float, float, TenantRef | None]] = {}
        self._loading: dict[str, asyncio.Future[TenantRef | None]] = {}
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.hits = 0  # answered from the cache (metrics)
        self.misses = 0

    async def get(self, slug: str) -> TenantRef:
        """The active tenant with ``slug``; ``TenantNotFound`` for anything else."""
        now = time.monotonic()
        hit = self._cache.get(slug)
        if hit is not None and hit[0] > now:
            self.hits += 1
            ref = hit[2]
            if now >= hit[1] and slug not in self._loading:
                self._refresh(slug, background=True)  # the entry stays valid meanwhile
        else:
            self.misses += 1
            # Shielded: a request that goes away does not cancel the query others wait for.
            ref = await asyncio.shield(self._refresh(slug))
        if ref is None:
            raise TenantNotFound(slug)
        if ref.status == "behind":
            # This code expects the newest schema; an older one is never served with it.
            raise TenantBehind(slug)
        return ref

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)
        self._loading.pop(slug, None)

    def _refresh(self, slug: str, background: bool = False) -> asyncio.Future[TenantRef | None]:
        task = self._loading.get(slug)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._fetch(slug, background))
            task.add_done_callback(_retrieve)  # a failed background refresh is retried later
            self._loading[slug] = task
        return task

    def _background_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.BACKGROUND_READS))
        return self._slots[1]

    async def _fetch(self, slug: str, background: bool) -> TenantRef | None:
        current = asyncio.current_task()
        try:
            if background:
                async with self._background_slots():
                    started = time.monotonic()
                    ref = await self._load(slug)
            else:
                started = time.monotonic()
                ref = await self._load(slug)
        finally:
            if self._loading.get(slug) is current:
                del self._loading[slug]
            else:
                current = None  # forgotten meanwhile: answer the waiters, keep nothing
        if current is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            refresh_from = started + self._ttl * random.uniform(0.5, 0.75)  # noqa: S311 (spread)
            self._cache[slug] = (started + self._ttl, refresh_from, ref)
        return ref

    async def _load(self, slug: str) -> TenantRef | None:
        try:
            validate_slug(slug)
        except ValueError:
            return None
        async with self._databases.control.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        Tenant.id,
                        Tenant.slug,
                        Tenant.name,
                        Tenant.region,
                        Tenant.status,
                        Tenant.schema_revision,
                    ).where(Tenant.slug == slug, Tenant.status == "active")
                )
            ).one_or_none()
        if row is None:
            return None
        status = "active" if row.schema_revision == _tenant_head() else "behind"
        return TenantRef(id=row.id, slug=row.slug, name=row.name, region=row.region, status=status)


@functools.cache
def _tenant_head() -> str:
    return head_revision("tenant")
