"""The portal's in-process cache, kept exact by PostgreSQL change notifications.

Every table a portal response or the portal guard reads has a statement-level trigger
(tenant migration ``t0009``) that sends ``NOTIFY tierline_portal, '<tenant schema>'``; the
notification is delivered when the writing transaction commits. One listener connection per
region database receives them and drops the tenant's cached entries.

Rules that keep the cache from ever answering with data older than the last commit it was told
about:

* the cache answers (and accepts entries) for a region only while its listener is connected;
  on losing the connection everything of the region is dropped and the cache stays off until
  the listener is connected again, and it is dropped once more right after reconnecting
  (notifications sent while disconnected are lost);
* an entry is stored only with the :meth:`PortalCache.token` taken *before* its value was
  read from the database; a notification (or a reconnect) in between changes the token, and
  the stale value is thrown away instead of stored;
* each tenant schema holds at most ``max_entries`` entries (least recently used go first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierline.platform import metrics

if TYPE_CHECKING:
    import asyncpg
    from litestar import Litestar
    from litestar.datastructures import State

    from tierline.platform.databases import Databases
    from tierline.platform.runtime import Runtime
    from tierline.platform.tenancy import TenantRef

CHANNEL = "tierline_portal"
STATE_KEY = "portal_cache"
# The identity guard looks this key up in the app state (``identity.web``).
PRINCIPAL_CACHE_STATE_KEY = "principal_cache"
HEARTBEAT_SECONDS = 2.0
RETRY_SECONDS = 0.5

log = logging.getLogger(__name__)

Token = tuple[int, int]


@dataclass
class _Region:
    connected: bool = False
    epoch: int = 0
    conn: asyncpg.Connection | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Tenant:
    generation: int = 0
    entries: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)


class PortalCache:
    """Cached portal results per (region, tenant schema), valid while the listener is up."""

    def __init__(self, databases: Databases | None = None, max_entries: int = 4096) -> None:
        self._databases = databases
        self._max_entries = max_entries
        self._regions: dict[str, _Region] = {}
        self._tenants: dict[tuple[str, str], _Tenant] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.hits = 0
        self.misses = 0

    # -----------------------------------------------------------------------------------------
    # Reading and storing

    def _live(self, region: str) -> _Region | None:
        state = self._regions.get(region)
        if state is None or not state.connected:
            return None
        if state.conn is None or state.conn.is_closed():
            self._lost(region)  # noticed before asyncpg told us: off at once
            return None
        return state

    def token(self, tenant: TenantRef) -> Token | None:
        """Take before reading what is to be cached; None while the cache is off."""
        state = self._live(tenant.region)
        if state is None:
            return None
        entry = self._tenants.get((tenant.region, tenant.schema))
        return state.epoch, entry.generation if entry else 0

    def get(self, tenant: TenantRef, key: Hashable) -> Any | None:
        if self._live(tenant.region) is None:
            return None
        entry = self._tenants.get((tenant.region, tenant.schema))
        if entry is None:
            self.misses += 1
            return None
        value = entry.entries.get(key)
        if value is None:
            self.misses += 1
            return None
        entry.entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, tenant: TenantRef, key: Hashable, token: Token | None, value: Any) -> bool:
        """Store ``value`` unless anything was invalidated since ``token`` was taken."""
        if token is None or value is None or self.token(tenant) != token:
            return False
        entry = self._tenants.setdefault((tenant.region, tenant.schema), _Tenant())
        entry.entries[key] = value
        entry.entries.move_to_end(key)
        while len(entry.entries) > self._max_entries:
            entry.entries.popitem(last=False)
        return True

    # The identity guard's hook (``identity.web``): a customer user's row, the tenant's policy
    # engine and what is derived from them, dropped with every change to users or grants.

    def lookup_principal(self, tenant: TenantRef, user_id: str) -> Any | None:
        return self.get(tenant, ("principal", user_id))

    def principal_token(self, tenant: TenantRef) -> Token | None:
        return self.token(tenant)

    def store_principal(
        self, tenant: TenantRef, user_id: str, token: Token | None, value: Any
    ) -> None:
        self.put(tenant, ("principal", user_id), token, value)

    # -----------------------------------------------------------------------------------------
    # Invalidation

    def invalidate(self, region: str, schema: str) -> None:
        entry = self._tenants.setdefault((region, schema), _Tenant())
        entry.generation += 1
        entry.entries.clear()

    def _clear_region(self, region: str) -> None:
        for (name, _schema), entry in self._tenants.items():
            if name == region:
                entry.generation += 1
                entry.entries.clear()

    def _lost(self, region: str) -> None:
        state = self._regions.setdefault(region, _Region())
        state.connected = False
        state.epoch += 1
        state.ready.clear()
        self._clear_region(region)

    def _connected(self, region: str, conn: asyncpg.Connection) -> None:
        state = self._regions.setdefault(region, _Region())
        self._clear_region(region)  # whatever happened while nobody listened
        state.epoch += 1
        state.conn = conn
        state.connected = True
        state.ready.set()

    def is_live(self, region: str) -> bool:
        return self._live(region) is not None

    async def wait_live(self, region: str) -> None:
        """Until the region's listener is connected (tests bound it with a timeout)."""
        state = self._regions.setdefault(region, _Region())
        await state.ready.wait()

    def listener_pid(self, region: str) -> int | None:
        state = self._regions.get(region)
        if state is None or state.conn is None or not state.connected:
            return None
        pid: int = state.conn.get_server_pid()
        return pid

    # -----------------------------------------------------------------------------------------
    # Listeners

    async def start(self) -> None:
        if self._databases is None:
            return
        for region in self._databases.region_names:
            self._regions.setdefault(region, _Region())
            self._tasks.append(asyncio.create_task(self._listen(region)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for region in list(self._regions):
            self._lost(region)

    def _dsn(self, region: str) -> str:
        assert self._databases is not None
        url = self._databases.region(region).url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen(self, region: str) -> None:
        import asyncpg

        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn(region), timeout=5)
                closed = asyncio.Event()

                def on_close(_conn: Any, closed: asyncio.Event = closed) -> None:
                    self._lost(region)
                    closed.set()

                def on_notify(
                    _conn: Any, _pid: int, _channel: str, payload: str, region: str = region
                ) -> None:
                    self.invalidate(region, payload)

                conn.add_termination_listener(on_close)
                await conn.add_listener(CHANNEL, on_notify)
                self._connected(region, conn)
                while not closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), HEARTBEAT_SECONDS)
                        break
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), HEARTBEAT_SECONDS)
            except asyncio.CancelledError:
                self._lost(region)
                if conn is not None:
                    conn.terminate()
                raise
            except Exception as exc:  # any failure: cache off, retry
                log.warning("portal cache listener for region %s lost: %s", region, exc)
            self._lost(region)
            if conn is not None:
                conn.terminate()
            await asyncio.sleep(RETRY_SECONDS)


def portal_cache(state: State) -> PortalCache | None:
    cache: PortalCache | None = state.get(STATE_KEY)
    return cache


@asynccontextmanager
async def lifespan(app: Litestar, runtime: Runtime) -> AsyncIterator[None]:
    """The app's portal cache and its listeners, for as long as the app runs."""
    cache = PortalCache(runtime.databases)
    await cache.start()
    app.state[STATE_KEY] = cache
    app.state[PRINCIPAL_CACHE_STATE_KEY] = cache
    metrics.register_cache("portal", cache)
    try:
        yield
    finally:
        metrics.register_cache("portal", None)
        app.state[STATE_KEY] = None
        app.state[PRINCIPAL_CACHE_STATE_KEY] = None
        await cache.stop()
