"""Engines for the control-plane database and every region database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tierline.platform import changes
from tierline.platform.settings import Settings


class UnknownRegion(LookupError):
    """A region name that this deployment has no database for."""

    def __init__(self, region: str, known: list[str]) -> None:
        super().__init__(f"unknown region '{region}' (configured: {', '.join(known) or 'none'})")
        self.region = region


class RegionUnavailable(ConnectionError):
    """A region's database could not be reached."""

    def __init__(self, region: str, reason: str) -> None:
        super().__init__(f"region '{region}' database is unreachable: {reason}")
        self.region = region


class RegionMismatch(RuntimeError):
    """A region URL points at a database that belongs to another region."""


@dataclass(frozen=True)
class ServiceEndpoints:
    control_url: str
    regions: dict[str, str]
    redis_url: str


def resolve_endpoints(settings: Settings) -> ServiceEndpoints:
    """Where the databases and Redis are; starts the embedded servers for what is unset."""
    control, regions, redis_url = (
        settings.control_database_url,
        settings.regions,
        settings.redis_url,
    )
    if settings.embedded_databases or settings.embedded_redis:
        from tierline.platform.embedded import start_embedded

        found = start_embedded(
            settings.data_dir,
            settings.embedded_regions,
            postgres=settings.embedded_databases,
            redis=settings.embedded_redis,
        )
        control = control or found.control_url
        regions = regions or found.regions
        redis_url = redis_url or found.redis_url
    assert control is not None and regions is not None and redis_url is not None
    return ServiceEndpoints(control, dict(regions), redis_url)


def _engine(url: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"timeout": 5, "server_settings": {"application_name": "tierline"}},
    )
    changes.watch(engine)
    return engine


@dataclass
class Databases:
    """The control engine and one engine per region; region identities checked once."""

    control: AsyncEngine
    regions: dict[str, AsyncEngine]
    _verified: set[str] = field(default_factory=set)
    _verify_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_endpoints(cls, endpoints: ServiceEndpoints, pool_size: int = 10) -> Databases:
        return cls(
            control=_engine(endpoints.control_url, pool_size),
            regions={name: _engine(url, pool_size) for name, url in endpoints.regions.items()},
        )

    @property
    def region_names(self) -> list[str]:
        return sorted(self.regions)

    def region(self, name: str) -> AsyncEngine:
        try:
            return self.regions[name]
        except KeyError:
            raise UnknownRegion(name, self.region_names) from None

    async def verified_region(self, name: str) -> AsyncEngine:
        """The region's engine, after checking once that its database really is that region."""
        engine = self.region(name)
        if name in self._verified:
            return engine
        async with self._verify_lock:
            if name not in self._verified:
                await ensure_region_identity(engine, name)
                self._verified.add(name)
        return engine

    async def dispose(self) -> None:
        await self.control.dispose()
        for engine in self.regions.values():
            await engine.dispose()


async def ensure_region_identity(engine: AsyncEngine, region: str) -> None:
    """Stamp a region database with its name on first use; refuse one stamped for another.

    This catches a misconfiguration that would otherwise put an ``eu`` tenant's rows into the
    ``us`` database (data residency, DESIGN.md §3).
    """
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS public.tierline_region ("
                    " name text PRIMARY KEY, singleton boolean NOT NULL DEFAULT true UNIQUE)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO public.tierline_region (name) VALUES (:n) ON CONFLICT DO NOTHING"
                ),
                {"n": region},
            )
            stamped = (await conn.execute(text("SELECT name FROM public.tierline_region"))).scalar()
        await _ensure_extensions(engine)
    except (OSError, TimeoutError) as exc:
        raise RegionUnavailable(region, str(exc) or type(exc).__name__) from exc
    if stamped != region:
        raise RegionMismatch(
            f"the database configured for region '{region}' belongs to region '{stamped}'"
        )


REGION_EXTENSIONS = ("pg_trgm", "btree_gist")


async def _ensure_extensions(engine: AsyncEngine) -> None:
    """Extensions tenant schemas use live once per region database, in ``public``; tenant
    revisions name their objects schema-qualified (e.g. ``public.gin_trgm_ops``)."""
    for name in REGION_EXTENSIONS:
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public"))
        except Exception as exc:  # another process created it at the same moment
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise


async def ping(engine: AsyncEngine, within: float = 3.0) -> str | None:
    """None when the database answers, else the reason it does not."""
    try:
        async with asyncio.timeout(within):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None
