"""Telling every process that a tenant's data changed, once the changing transaction committed.

The unit of work (``tenancy``) notes whether a transaction wrote anything — every statement
SQLAlchemy sends is looked at (``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``, ``TRUNCATE``,
``COPY … FROM``, DDL), and bulk ``COPY`` through the driver marks itself (``mark_written``) —
and after a successful commit publishes ``<region> <schema>`` on the Redis channel
:data:`CHANNEL`. Caches that must never serve data older than the last commit (the portal's)
listen there and drop the tenant's entries.

This replaces change notifications sent by database triggers (``NOTIFY``): under Citus a
tenant's tables may live on a worker node, and a trigger's notification there never reaches a
listener on the coordinator. Publishing from the application works wherever the tables live.
What it cannot see — a change made by hand in SQL, outside Tierline — reaches the caches when
their entries expire (listeners bound how long an entry may live) or when they reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

CHANNEL = "tl:tenant-changes"
WROTE = "tierline_wrote"  # key in the DBAPI connection's info: this transaction wrote
# This process's name on the channel: its own announcements were applied before they were
# published (``listen_locally``), so its listeners skip them when they come back.
ORIGIN = uuid.uuid4().hex[:16]

Listener = Callable[[str, str], None]
_local: list[Listener] = []

log = logging.getLogger(__name__)

_WRITE = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(?:"
    r"INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|DROP|ALTER|COMMENT|GRANT|REVOKE|"
    r"COPY\s+[^;]*?\bFROM\b|"
    r"WITH\b[^;]*?\b(?:INSERT|UPDATE|DELETE|MERGE)\b"
    r")",
    re.IGNORECASE | re.DOTALL,
)


def is_write(statement: str) -> bool:
    """Whether ``statement`` may change data (conservative: a CTE with DML counts)."""
    return _WRITE.match(statement) is not None


def _note(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    if is_write(statement):
        conn.info[WROTE] = True


def watch(engine: AsyncEngine) -> None:
    """Note writes on every connection of ``engine`` (once per engine)."""
    sync_engine = engine.sync_engine
    if not event.contains(sync_engine, "before_cursor_execute", _note):
        event.listen(sync_engine, "before_cursor_execute", _note)


def start_transaction(conn: AsyncConnection) -> None:
    """Forget earlier transactions' writes (the info dict lives with the pooled connection)."""
    if conn.sync_connection is not None:
        conn.sync_connection.info[WROTE] = False


def mark_written(conn: AsyncConnection) -> None:
    """For writes that bypass SQLAlchemy's statement events (``COPY`` through the driver)."""
    if conn.sync_connection is not None:
        conn.sync_connection.info[WROTE] = True


def wrote(conn: AsyncConnection) -> bool:
    return bool(conn.sync_connection is not None and conn.sync_connection.info.get(WROTE))


def listen_locally(listener: Listener) -> None:
    """Call ``listener(region, schema)`` in this process for each of its own announcements, at
    once, before the change's request or job goes on (its next request sees it, whatever the
    channel's delay); announcements of other processes arrive through the channel."""
    if listener not in _local:
        _local.append(listener)


def stop_listening_locally(listener: Listener) -> None:
    if listener in _local:
        _local.remove(listener)


def message(region: str, schema: str, origin: str = ORIGIN) -> str:
    return f"{origin} {region} {schema}"


def parse(payload: str) -> tuple[str, str, str] | None:
    """``(origin, region, schema)`` of an announcement, None when it is not one."""
    parts = payload.split(" ")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


async def announce(redis: Any, region: str, schema: str) -> None:
    """Tell this process's listeners, then publish that ``schema`` in ``region`` changed (after
    its transaction committed). A failed publish is logged, not raised: the commit stands, and
    listeners that cannot hear it are off anyway when Redis is unreachable for them too."""
    for listener in tuple(_local):
        listener(region, schema)
    try:
        async with asyncio.timeout(2):
            await redis.publish(CHANNEL, message(region, schema))
    except Exception as exc:  # the data is committed; caches fall back on their entry lifetime
        log.warning("could not announce a change of %s in %s: %s", schema, region, exc)
