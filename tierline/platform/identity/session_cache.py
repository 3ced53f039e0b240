"""An exact in-process cache of browser sessions, so a signed-in request needs no Redis trip.

Redis stays the only record of a session; a web process keeps a copy of the sessions it has
recently seen and answers from it only while it can prove the copy is current. What ends a
session early (sign-out, sign-in rotation, "sign out everywhere", a disabled user, a changed
password: every deletion in :class:`~tierline.platform.identity.sessions.SessionStore`) first
deletes the Redis key and then publishes the key on :data:`CHANNEL`; each cache drops the key
when the message arrives and acknowledges it. The revoking call returns only when every
subscribed cache has acknowledged, or after :data:`LEASE` seconds, whichever comes first.

Why that makes a revoked session stop working at once in every process:

* **Acknowledged**: the cache has dropped the key before acknowledging; a later request misses,
  reads Redis and finds nothing.
* **Not acknowledged** (a process stalled, partitioned from Redis, or slow): a cache answers
  only while its *lease* is fresh: it pings Redis on its subscription connection every
  :data:`HEARTBEAT` seconds and serves entries only if a pong came back for a ping it sent less
  than :data:`LEASE` seconds ago. One connection delivers in order, so a pong for a ping sent
  after the revocation was published proves the revocation message was read first. The revoker
  waits :data:`LEASE` (plus a margin), so afterwards a cache has either read the revocation or
  stopped answering.
* **Racing a refill**: an entry read from Redis is stored only if no revocation arrived since
  the read began (a generation counter, as in the portal cache), so a read that overtook a
  deletion cannot put the session back.
* **Lost subscription**: while the listener is not subscribed the cache answers nothing, and it
  is emptied on every (re)subscription (messages sent meanwhile are lost).

Timeouts stay exact too: an entry expires locally no later than the Redis key would (the key's
remaining TTL is read with it, or set by our own touch), and the idle and absolute limits are
checked on every hit with the wall clock, as ``SessionStore.get`` checks them. A session in use
is still touched in Redis once a minute (its idle timeout moves on in every process); from the
cache that touch runs beside the request (``touch_later``), one at a time per session, and only
rewrites a key that still exists, so it can never bring back a session ended meanwhile.

Sessions must be ended through ``SessionStore`` (sign-out, "sign out everywhere", disabling a
user): a key deleted in Redis by hand is noticed at the session's next touch, within a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tierline.platform.identity.sessions import BrowserSession

CHANNEL = "tl:sess:revoked"
ACK_PREFIX = "tl:sess:ack:"
HEARTBEAT = 0.1
LEASE = 1.0
RETRY_SECONDS = 0.5
STATE_KEY = "session_cache"

log = logging.getLogger(__name__)

_NEVER = float("-inf")


class _Entry:
    __slots__ = ("fresh_until", "session", "valid_until")

    def __init__(self, session: BrowserSession, valid_until: float, fresh_until: float) -> None:
        self.session = session
        self.valid_until = valid_until  # monotonic: the Redis key's expiry, read with it
        self.fresh_until = fresh_until  # wall clock: the idle or absolute limit


class SessionCache:
    """Sessions by Redis key (``tl:sess:<sha256>``), answering only while provably current."""

    def __init__(self, max_entries: int = 50_000, lease: float = LEASE) -> None:
        self._entries: dict[str, _Entry] = {}
        self._keys: dict[str, str] = {}  # cookie value -> key (the sessions hold it anyway)
        self._max_entries = max_entries
        self._lease = lease
        self._generation = 0
        self._verified_at = _NEVER  # monotonic send time of the newest answered ping
        self._subscribed = False
        self._task: asyncio.Task[None] | None = None
        self._touching: dict[str, asyncio.Task[None]] = {}
        self._ready = asyncio.Event()
        self.hits = 0
        self.misses = 0

    # -----------------------------------------------------------------------------------------
    # Reading and storing (``SessionStore.get``)

    def live(self) -> bool:
        return self._subscribed and time.monotonic() - self._verified_at < self._lease

    def key_of(self, session_id: str, derive: Callable[[str], str]) -> str:
        """The Redis key of a cookie value, derived (a SHA-256) once per session seen."""
        key = self._keys.get(session_id)
        if key is None:
            if len(self._keys) >= self._max_entries:
                self._keys.clear()
            key = self._keys[session_id] = derive(session_id)
        return key

    def lookup(self, key: str) -> BrowserSession | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if (
            not self.live()
            or time.monotonic() >= entry.valid_until
            or time.time() >= entry.fresh_until
        ):
            self._entries.pop(key, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry.session

    def token(self) -> int | None:
        """Take before reading Redis; None while the cache is off."""
        return self._generation if self.live() else None

    def store(
        self,
        key: str,
        session: BrowserSession,
        token: int | None,
        valid_until: float,
        fresh_until: float,
    ) -> bool:
        """Keep ``session`` unless a revocation arrived since ``token`` was taken."""
        if token is None or token != self._generation or not self.live():
            return False
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest stored
        self._entries[key] = _Entry(session, valid_until, fresh_until)
        return True

    def touch_later(self, key: str, touch: Callable[[], Awaitable[None]]) -> None:
        """Run ``touch`` (refreshing the session in Redis) beside the request, unless one is
        already running for ``key``."""
        if key in self._touching or len(self._touching) > 10_000:
            return
        task = asyncio.ensure_future(touch())
        self._touching[key] = task
        task.add_done_callback(lambda done: self._touched(key, done))

    def _touched(self, key: str, task: asyncio.Future[None]) -> None:
        self._touching.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("session touch failed: %s", task.exception())

    def drop(self, keys: Iterable[str]) -> None:
        self._generation += 1
        for key in keys:
            self._entries.pop(key, None)

    def _clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # -----------------------------------------------------------------------------------------
    # The listener

    async def start(self, redis_url: str) -> None:
        self._task = asyncio.create_task(self._listen(redis_url))

    async def stop(self) -> None:
        for pending in list(self._touching.values()):
            pending.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._off()

    async def wait_live(self) -> None:
        """Until the listener is subscribed and has a fresh lease (tests bound it)."""
        while not self.live():
            await self._ready.wait()
            if not self.live():
                await asyncio.sleep(HEARTBEAT / 4)

    def _off(self) -> None:
        self._subscribed = False
        self._verified_at = _NEVER
        self._ready.clear()
        self._clear()

    async def _listen(self, redis_url: str) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        while True:
            # Its own client without retries: a dropped connection must surface here (and turn
            # the cache off), never be reconnected and resubscribed behind our back.
            client = Redis.from_url(
                redis_url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=5
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                await self._serve(client, pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: cache off, retry
                log.warning("session cache listener lost: %s", exc)
            finally:
                self._off()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_SECONDS)

    async def _serve(self, client: Any, pubsub: Any) -> None:
        pings: dict[str, float] = {}
        seq = 0
        while True:
            seq += 1
            pings[str(seq)] = time.monotonic()
            await pubsub.ping(str(seq))
            deadline = time.monotonic() + HEARTBEAT
            while (remaining := deadline - time.monotonic()) > 0:
                message = await pubsub.get_message(timeout=remaining)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "subscribe":
                    self._clear()  # whatever was revoked while nobody listened
                    self._subscribed = True
                elif kind == "pong":
                    sent = pings.pop(_text(message["data"]), None)
                    if sent is not None and self._subscribed:
                        self._verified_at = max(self._verified_at, sent)
                        self._ready.set()
                    for stale in [k for k, v in pings.items() if sent is not None and v < sent]:
                        del pings[stale]
                elif kind == "message":
                    await self._revoked(client, _text(message["data"]))

    async def _revoked(self, client: Any, payload: str) -> None:
        nonce, *keys = payload.split()
        self.drop(keys)
        ack = ACK_PREFIX + nonce
        async with client.pipeline(transaction=False) as pipe:
            pipe.rpush(ack, "1")
            pipe.expire(ack, 60)
            await pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
