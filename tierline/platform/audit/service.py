"""Appending to and verifying the hash-chained audit log.

Each entry's hash is ``sha256(prev_hash || canonical_json(entry))``; sequence numbers are
consecutive from 1 and the head row records the newest link. An edited row breaks its own hash,
a deleted or reordered row breaks the sequence or the next link, and a cut-off tail disagrees
with the head. Appends lock the head row, so concurrent writers queue instead of forking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.models import AuditHead, AuditLog
from tierline.platform.db import utcnow

GENESIS = bytes(32)
_BATCH = 5000


@dataclass(frozen=True)
class AuditEntry:
    """What happened, as written to the log (the hashing input)."""

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any
    reason: str | None
    request_id: str | None
    client_ip: str | None

    def canonical(self) -> bytes:
        body = {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "request_id": self.request_id,
            "client_ip": self.client_ip,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: bytes, entry: AuditEntry) -> bytes:
    return hashlib.sha256(prev_hash + entry.canonical()).digest()


def _json_native(value: Any) -> Any:
    """What JSONB will give back, so the hash computed now matches the one verified later."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, sort_keys=True))


async def record(
    session: AsyncSession,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change)."""
    await session.execute(
        pg_insert(AuditHead)
        .values(singleton=True, last_seq=0, last_hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["singleton"])
    )
    head = (await session.execute(select(AuditHead).with_for_update())).scalar_one()
    entry = AuditEntry(
        seq=head.last_seq + 1,
        at=utcnow(),
        actor=actor[:320],
        actor_kind=actor_kind,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:500],
        before=_json_native(before),
        after=_json_native(after),
        reason=reason,
        request_id=request_id,
        client_ip=client_ip,
    )
    digest = link_hash(head.last_hash, entry)
    session.add(AuditLog(**vars(entry), prev_hash=head.last_hash, hash=digest))
    head.last_seq, head.last_hash = entry.seq, digest
    await session.flush()
    return entry


class ActingParty(Protocol):
    """Who acts, as :class:`tierline.platform.identity.users.Actor` describes it."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def client_ip(self) -> str | None: ...


async def record_by(
    session: AsyncSession,
    actor: ActingParty,
    action: str,
    object_type: str,
    object_id: str | None = None,
    *,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> AuditEntry:
    """:func:`record` with the actor's name, kind, request id and address filled in."""
    return await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        reason=reason,
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


async def _rows(session: AsyncSession) -> AsyncIterator[AuditLog]:
    after = 0
    while True:
        batch = (
            await session.execute(
                select(AuditLog).where(AuditLog.seq > after).order_by(AuditLog.seq).limit(_BATCH)
            )
        ).scalars()
        rows = list(batch)
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq
        session.expunge_all()


def _entry_of(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        actor_kind=row.actor_kind,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=row.before,
        after=row.after,
        reason=row.reason,
        request_id=row.request_id,
        client_ip=row.client_ip,
    )


async def verify_chain(session: AsyncSession) -> VerifyResult:
    """Walk the whole log; report the first entry whose link does not hold."""
    expected_seq, prev = 1, GENESIS
    checked = 0
    async for row in _rows(session):
        if row.seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                expected_seq,
                f"entry {expected_seq} is missing (next present is {row.seq})",
            )
        if bytes(row.prev_hash) != prev:
            return VerifyResult(False, checked, row.seq, "link to the previous entry is broken")
        if link_hash(prev, _entry_of(row)) != bytes(row.hash):
            return VerifyResult(False, checked, row.seq, "entry content does not match its hash")
        prev, expected_seq, checked = bytes(row.hash), expected_seq + 1, checked + 1
    head = (await session.execute(select(AuditHead))).scalar_one_or_none()
    last_seq = head.last_seq if head else 0
    if last_seq != checked or (head is not None and bytes(head.last_hash) != prev):
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the log ends at entry {checked} but the head records {last_seq}",
        )
    return VerifyResult(True, checked)
