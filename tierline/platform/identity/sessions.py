"""Server-side browser sessions in Redis.

The cookie carries only a random id; Redis keeps its SHA-256, so a copy of Redis gives no usable
cookie. Sessions end after an idle timeout (refreshed as the user works) and an absolute
timeout; signing in always starts a fresh session (rotation), and disabling a user or changing
its password ends all of its sessions.

A web process may keep recently seen sessions in memory (``session_cache.SessionCache``); every
deletion here is announced to those caches and waits until they have dropped it (see that
module), so an ended session stops working at once in every process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from litestar.datastructures import Cookie

from tierline.platform.identity.session_cache import ACK_PREFIX, CHANNEL, LEASE

if TYPE_CHECKING:
    from tierline.platform.identity.session_cache import SessionCache

SESSION_COOKIE = "tl_session"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
_TOUCH_EVERY = 60
_LEASE_MARGIN = 0.1


@dataclass(slots=True)
class BrowserSession:
    id: str
    tenant: str
    user_id: str
    kind: str
    csrf: str
    created_at: float
    last_seen: float
    auth_method: str = "password"


def _key(session_id: str) -> str:
    return "tl:sess:" + hashlib.sha256(session_id.encode()).hexdigest()


def _user_index(tenant: str, user_id: str) -> str:
    return f"tl:sess-user:{tenant}:{user_id}"


class SessionStore:
    def __init__(
        self, redis: Any, idle_seconds: int = IDLE_SECONDS, absolute_seconds: int = ABSOLUTE_SECONDS
    ) -> None:
        self.redis = redis
        self.idle = idle_seconds
        self.absolute = absolute_seconds

    async def create(
        self, tenant: str, user_id: str, kind: str, method: str, replacing: str | None = None
    ) -> BrowserSession:
        if replacing:
            await self.delete(replacing)
        now = time.time()
        session = BrowserSession(
            id=secrets.token_urlsafe(32),
            tenant=tenant,
            user_id=user_id,
            kind=kind,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            auth_method=method,
        )
        await self._save(session)
        index = _user_index(tenant, user_id)
        await self.redis.sadd(index, _key(session.id))
        await self.redis.expire(index, self.absolute)
        return session

    def _ttl(self, session: BrowserSession) -> int:
        remaining_absolute = int(session.created_at + self.absolute - time.time())
        return max(1, min(self.idle, remaining_absolute))

    async def _save(self, session: BrowserSession) -> None:
        await self.redis.set(_key(session.id), json.dumps(asdict(session)), ex=self._ttl(session))

    async def get(
        self, session_id: str | None, cache: SessionCache | None = None
    ) -> BrowserSession | None:
        """The live session for a cookie value; None when unknown, idle or too old.

        With ``cache`` (the web process's), a session seen recently is answered from memory
        while the cache can prove it current; otherwise Redis is read and the result kept."""
        if not session_id or len(session_id) > 100:
            return None
        if cache is None:
            key = _key(session_id)
            raw = await self.redis.get(key)
            return await self._check(session_id, raw) if raw is not None else None
        key = cache.key_of(session_id, _key)
        hit = cache.lookup(key)
        if hit is not None:
            if time.time() - hit.last_seen > _TOUCH_EVERY:
                # Due for its touch (the idle timeout moves on): done beside the request, which
                # needs nothing from it; the cached copy stays valid until the key's TTL.
                cache.touch_later(key, lambda: self._touch_cached(key, hit, cache))
            return hit
        token = cache.token()  # before reading: a revocation meanwhile voids what we read
        sent = time.monotonic()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.pttl(key)
            raw, pttl = await pipe.execute()
        if raw is None:
            return None
        session = await self._check(session_id, raw)
        if session is not None and pttl is not None and pttl > 0:
            # Never longer than the key lived when read (a touch only extends it).
            self._keep(cache, key, session, token, sent + pttl / 1000)
        return session

    def _keep(
        self,
        cache: SessionCache,
        key: str,
        session: BrowserSession,
        token: int | None,
        valid_until: float,
    ) -> None:
        fresh_until = min(session.last_seen + self.idle, session.created_at + self.absolute)
        cache.store(key, session, token, valid_until, fresh_until)

    async def _touch_cached(self, key: str, session: BrowserSession, cache: SessionCache) -> None:
        token = cache.token()
        touched = replace(session, last_seen=time.time())
        sent = time.monotonic()
        if await self._touch(touched):
            self._keep(cache, key, touched, token, sent + self._ttl(touched))
        else:
            cache.drop([key])  # ended meanwhile (its revocation drops it too)

    async def _check(self, session_id: str, raw: Any) -> BrowserSession | None:
        session = BrowserSession(**json.loads(raw))
        now = time.time()
        if now - session.created_at > self.absolute or now - session.last_seen > self.idle:
            await self.delete(session_id)
            return None
        if now - session.last_seen > _TOUCH_EVERY:
            session.last_seen = now
            if not await self._touch(session):
                return None  # deleted since it was read
        return session

    async def _touch(self, session: BrowserSession) -> bool:
        """Save a seen session's new ``last_seen`` and TTL, only if its key still exists: a
        touch racing a sign-out must not bring the session back."""
        saved = await self.redis.set(
            _key(session.id), json.dumps(asdict(session)), ex=self._ttl(session), xx=True
        )
        return bool(saved)

    async def delete(self, session_id: str) -> None:
        key = _key(session_id)
        await self.redis.delete(key)
        await self._announce([key])

    async def end_all_for(self, tenant: str, user_id: str) -> int:
        index = _user_index(tenant, user_id)
        keys = [
            k.decode() if isinstance(k, bytes) else str(k) for k in await self.redis.smembers(index)
        ]
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(index)
        await self._announce(keys)
        return len(keys)

    async def _announce(self, keys: list[str]) -> None:
        """Tell every process's session cache that ``keys`` are gone (already deleted in
        Redis), and return once each cache has dropped them or its lease has run out."""
        if not keys:
            return
        nonce = secrets.token_hex(12)
        receivers = int(await self.redis.publish(CHANNEL, " ".join([nonce, *keys])))
        ack = ACK_PREFIX + nonce
        deadline = time.monotonic() + LEASE + _LEASE_MARGIN
        acknowledged = 0
        while acknowledged < receivers:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or await self.redis.blpop([ack], timeout=remaining) is None:
                break
            acknowledged += 1
        if receivers:
            await self.redis.delete(ack)


def session_cookie(session: BrowserSession | None, secure: bool) -> Cookie:
    """The session cookie (an expired one when ``session`` is None, to sign out)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=session.id if session else "",
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
        max_age=ABSOLUTE_SECONDS if session else 0,
    )
