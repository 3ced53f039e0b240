"""The process's shared services: settings, databases and the job queue.

Requests, jobs and CLI commands all reach the databases through one ``Runtime``; a CLI command
or a job opens it with ``open_runtime()``, the web app in its lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tierline.platform.databases import Databases, ServiceEndpoints, resolve_endpoints
from tierline.platform.settings import Settings, get_settings

if TYPE_CHECKING:
    from arq.connections import ArqRedis


@dataclass
class Runtime:
    settings: Settings
    endpoints: ServiceEndpoints
    databases: Databases
    _queue: ArqRedis | None = field(default=None, repr=False)

    async def queue(self) -> ArqRedis:
        """The arq connection used to enqueue jobs (created on first use)."""
        if self._queue is None:
            from arq import create_pool
            from arq.connections import RedisSettings

            redis_settings = RedisSettings.from_dsn(self.endpoints.redis_url)
            # A request must not hang while Redis is down: fail fast, the outbox keeps the job.
            redis_settings.conn_retries, redis_settings.conn_timeout = 0, 2
            self._queue = await create_pool(
                redis_settings, default_queue_name=self.settings.queue_name
            )
        return self._queue

    async def redis(self) -> ArqRedis:
        """The shared Redis client (sessions, rate limits); the same pool as the job queue."""
        return await self.queue()

    async def close_queue(self) -> None:
        """Close the Redis pool (the databases stay open)."""
        if self._queue is not None:
            await self._queue.aclose()
            self._queue = None

    async def close(self) -> None:
        await self.close_queue()
        await self.databases.dispose()


_current: Runtime | None = None


def current_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("no Tierline runtime is open in this process")
    return _current


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    endpoints = resolve_endpoints(settings)
    databases = Databases.from_endpoints(endpoints, settings.db_pool_size)
    return Runtime(settings=settings, endpoints=endpoints, databases=databases)


def installed_runtime() -> Runtime | None:
    """The runtime ``current_runtime()`` would return, or None (no error)."""
    return _current


def install_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the one ``current_runtime()`` returns (None clears it)."""
    global _current
    _current = runtime


@asynccontextmanager
async def open_runtime(settings: Settings | None = None) -> AsyncIterator[Runtime]:
    """Open the shared services for a CLI command or script, and close them after."""
    runtime = build_runtime(settings)
    previous = _current
    install_runtime(runtime)
    try:
        yield runtime
    finally:
        install_runtime(previous)
        await runtime.close()
