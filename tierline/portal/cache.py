"""The portal's in-process cache, kept exact by the change announcements of the unit of work.

After every committed transaction that wrote to a tenant's schema, the writing process drops
that tenant's entries in its own cache at once and publishes the tenant on Redis
(``tierline.platform.changes``); one subscription per process receives the other processes'
announcements and drops that tenant's entries. (Database triggers sending ``NOTIFY``
did this before; under Citus a trigger on a worker node never reaches a listener on the
coordinator, so the announcement now comes from the application.)

Rules that keep the cache from ever answering with data older than the last commit it was told
about:

* the cache answers (and accepts entries) only while its subscription is live: subscribed, and
  a ping on that connection answered within the last ``LEASE`` seconds (one connection delivers
  in order, so a pong proves every announcement published before the ping was read). On losing
  it everything is dropped and the cache stays off until it is subscribed again, and it is
  dropped once more right after resubscribing (announcements sent meanwhile are lost);
* an entry is stored only with the :meth:`PortalCache.token` taken *before* its value was
  read from the database; an announcement (or a resubscription) in between changes the token,
  and the stale value is thrown away instead of stored;
* an entry lives at most ``MAX_AGE`` seconds, so a change the application could not announce
  (made by hand in SQL, or by a process that died between its commit and its announcement)
  shows within that time;
* each tenant schema holds at most ``max_entries`` entries (least recently used go first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierline.platform import changes, metrics

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.datastructures import State

    from tierline.platform.runtime import Runtime
    from tierline.platform.tenancy import TenantRef

STATE_KEY = "portal_cache"
# The identity guard looks this key up in the app state (``identity.web``).
PRINCIPAL_CACHE_STATE_KEY = "principal_cache"
HEARTBEAT_SECONDS = 0.5
LEASE_SECONDS = 2.0
RETRY_SECONDS = 0.5
MAX_AGE_SECONDS = 60.0

log = logging.getLogger(__name__)

Token = tuple[int, int]


@dataclass
class _Subscription:
    connected: bool = False
    epoch: int = 0
    lease_until: float = 0.0  # monotonic: a pong answered a ping sent before this, minus LEASE
    name: str | None = None  # the subscription connection's Redis client name
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Tenant:
    generation: int = 0
    entries: OrderedDict[Hashable, tuple[float, Any]] = field(default_factory=OrderedDict)


class PortalCache:
    """Cached portal results per (region, tenant schema), valid while the subscription is live."""

    def __init__(
        self,
        redis_url: str | None = None,
        max_entries: int = 4096,
        max_age: float = MAX_AGE_SECONDS,
    ) -> None:
        self._redis_url = redis_url
        self._max_entries = max_entries
        self._max_age = max_age
        self._sub = _Subscription()
        self._tenants: dict[tuple[str, str], _Tenant] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.hits = 0
        self.misses = 0

    # -----------------------------------------------------------------------------------------
    # Reading and storing

    def _live(self) -> bool:
        sub = self._sub
        if not sub.connected:
            return False
        if time.monotonic() > sub.lease_until:
            self._lost()  # no pong lately: whatever was announced since may be unread
            return False
        return True

    def token(self, tenant: TenantRef) -> Token | None:
        """Take before reading what is to be cached; None while the cache is off."""
        if not self._live():
            return None
        entry = self._tenants.get((tenant.region, tenant.schema))
        return self._sub.epoch, entry.generation if entry else 0

    def get(self, tenant: TenantRef, key: Hashable) -> Any | None:
        if not self._live():
            return None
        entry = self._tenants.get((tenant.region, tenant.schema))
        found = entry.entries.get(key) if entry is not None else None
        if found is None or time.monotonic() - found[0] > self._max_age:
            self.misses += 1
            return None
        assert entry is not None
        entry.entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, tenant: TenantRef, key: Hashable, token: Token | None, value: Any) -> bool:
        """Store ``value`` unless anything was invalidated since ``token`` was taken."""
        if token is None or value is None or self.token(tenant) != token:
            return False
        entry = self._tenants.setdefault((tenant.region, tenant.schema), _Tenant())
        entry.entries[key] = (time.monotonic(), value)
        entry.entries.move_to_end(key)
        while len(entry.entries) > self._max_entries:
            entry.entries.popitem(last=False)
        return True

    # The identity guard's hook (``identity.web``): a customer user's row, the tenant's policy
    # engine and what is derived from them, dropped with every change to the tenant.

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

    def _clear(self) -> None:
        for entry in self._tenants.values():
            entry.generation += 1
            entry.entries.clear()

    def _lost(self) -> None:
        sub = self._sub
        if sub.connected:
            log.warning("portal cache off: its change subscription was lost")
        sub.connected = False
        sub.epoch += 1
        sub.ready.clear()
        self._clear()

    def _connected(self, name: str) -> None:
        self._clear()  # whatever happened while nobody listened
        sub = self._sub
        sub.epoch += 1
        sub.name = name
        sub.connected = True
        sub.ready.set()

    def is_live(self, region: str | None = None) -> bool:
        """Whether the cache answers (the same for every region: one subscription)."""
        return self._live()

    async def wait_live(self, region: str | None = None) -> None:
        """Until the subscription is live (tests bound it with a timeout)."""
        await self._sub.ready.wait()

    def listener_name(self) -> str | None:
        """The Redis client name of the subscription connection while it is live."""
        return self._sub.name if self._sub.connected else None

    # -----------------------------------------------------------------------------------------
    # The subscription

    async def start(self) -> None:
        changes.listen_locally(self.invalidate)
        if self._redis_url is not None:
            self._tasks.append(asyncio.create_task(self._listen(self._redis_url)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        changes.stop_listening_locally(self.invalidate)
        self._lost()

    async def _listen(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        serial = 0
        while True:
            serial += 1
            name = f"tl-portal-cache-{os.getpid()}-{id(self)}-{serial}"
            client = aioredis.from_url(  # type: ignore[no-untyped-call]
                redis_url, client_name=name, socket_connect_timeout=5, socket_timeout=None
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(changes.CHANNEL)
                await self._serve(pubsub, name)
            except asyncio.CancelledError:
                self._lost()
                raise
            except Exception as exc:  # any failure: cache off, retry
                log.warning("portal cache subscription lost: %s", exc)
            finally:
                self._lost()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_SECONDS)

    async def _serve(self, pubsub: Any, name: str) -> None:
        """Read announcements; ping every ``HEARTBEAT_SECONDS``: a pong renews the lease."""
        pending: float | None = None
        subscribed = False
        while True:
            now = time.monotonic()
            if pending is None:
                pending = now
                await pubsub.ping()
            elif now - pending > LEASE_SECONDS:
                raise ConnectionError("no pong from Redis within the lease")
            message = await pubsub.get_message(timeout=HEARTBEAT_SECONDS)
            if message is None:
                continue
            kind = message.get("type")
            if kind == "subscribe":
                subscribed = True
            elif kind == "pong":
                self._sub.lease_until = pending + LEASE_SECONDS
                if subscribed and not self._sub.connected:
                    self._connected(name)
                await asyncio.sleep(max(0.0, HEARTBEAT_SECONDS - (time.monotonic() - pending)))
                pending = None
            elif kind == "message":
                found = changes.parse(_text(message.get("data")))
                if found is not None and found[0] != changes.ORIGIN:  # ours: applied already
                    self.invalidate(found[1], found[2])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def portal_cache(state: State) -> PortalCache | None:
    cache: PortalCache | None = state.get(STATE_KEY)
    return cache


@asynccontextmanager
async def lifespan(app: Litestar, runtime: Runtime) -> AsyncIterator[None]:
    """The app's portal cache and its listeners, for as long as the app runs."""
    cache = PortalCache(runtime.endpoints.redis_url)
    await cache.start()
    app.state[STATE_KEY] = cache
    app.state[PRINCIPAL_CACHE_STATE_KEY] = cache
    metrics.register_cache("portal", cache)
    try:
        yield
    finally:
        metrics.unregister_cache("portal", cache)
        app.state[STATE_KEY] = None
        app.state[PRINCIPAL_CACHE_STATE_KEY] = None
        await cache.stop()
