"""Fixed-window rate limits in Redis, shared by every process (login, token endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


async def hit(redis: Any, key: str, limit: int, window_seconds: int) -> Verdict:
    """Count one event under ``key``; refuse once more than ``limit`` fall in the window."""
    full_key = f"tl:rate:{key}"
    # SET NX starts the window (works on Redis 6.2, which lacks EXPIRE NX).
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(full_key, 0, ex=window_seconds, nx=True)
        pipe.incr(full_key)
        pipe.ttl(full_key)
        _, count, ttl = await pipe.execute()
    return Verdict(int(count) <= limit, int(count), max(int(ttl), 1))


async def check(redis: Any, key: str, limit: int) -> Verdict:
    """Whether ``key`` is still under ``limit`` in its window, without counting anything."""
    full_key = f"tl:rate:{key}"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(full_key)
        pipe.ttl(full_key)
        count, ttl = await pipe.execute()
    used = int(count or 0)
    return Verdict(used < limit, used, max(int(ttl), 1))


async def peek(redis: Any, key: str) -> int:
    value = await redis.get(f"tl:rate:{key}")
    return int(value or 0)


async def clear(redis: Any, key: str) -> None:
    await redis.delete(f"tl:rate:{key}")
