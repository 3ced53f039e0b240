"""Server-side browser sessions in Redis.

The cookie carries only a random id; Redis keeps its SHA-256, so a copy of Redis gives no usable
cookie. Sessions end after an idle timeout (refreshed as the user works) and an absolute
timeout; signing in always starts a fresh session (rotation), and disabling a user or changing
its password ends all of its sessions.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from litestar.datastructures import Cookie

SESSION_COOKIE = "tl_session"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60
_TOUCH_EVERY = 60


@dataclass
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

    async def _save(self, session: BrowserSession) -> None:
        remaining_absolute = int(session.created_at + self.absolute - time.time())
        ttl = max(1, min(self.idle, remaining_absolute))
        await self.redis.set(_key(session.id), json.dumps(asdict(session)), ex=ttl)

    async def get(self, session_id: str | None) -> BrowserSession | None:
        """The live session for a cookie value; None when unknown, idle or too old."""
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.get(_key(session_id))
        if raw is None:
            return None
        session = BrowserSession(**json.loads(raw))
        now = time.time()
        if now - session.created_at > self.absolute or now - session.last_seen > self.idle:
            await self.delete(session_id)
            return None
        if now - session.last_seen > _TOUCH_EVERY:
            session.last_seen = now
            await self._save(session)
        return session

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(_key(session_id))

    async def end_all_for(self, tenant: str, user_id: str) -> int:
        index = _user_index(tenant, user_id)
        keys = list(await self.redis.smembers(index))
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(index)
        return len(keys)


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
