"""Key rotation: the ``keys.rotate`` job and its inline runner for the CLI (DESIGN.md §5, §7).

A rotation has two steps:

1. **New key** (one short transaction): version N+1 becomes active, N is retired, and the change
   is audited. From that commit on every process seals new values under N+1 (``load_codec``
   re-reads the key versions on each call), while values under N still decrypt.
2. **Re-encryption** (many short transactions): every registered encrypted column is walked in
   primary-key order, ``BATCH_SIZE`` stale values (sealed under another version) per
   transaction. Each value is written back only if it is still the one that was read, so a value
   a request rewrote meanwhile is never overwritten with an older one.

Resuming: the job is identified by the version it rotates *from* (``params.from_version``). A
re-run (arq retry, or ``tierline keys rotate`` again after a crash) finds that version already
retired, so it creates no further key and only continues step 2, which skips values already
under the active key. ``submit_rotation`` hands out the unfinished rotation job, if there is one,
instead of starting a new rotation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, and_, bindparam, func, literal, select, tuple_
from sqlalchemy import update as sql_update

from tierline.platform.audit import record
from tierline.platform.databases import Databases
from tierline.platform.identity.users import Actor
from tierline.platform.jobs import JobRun, get_tenant_job, job_handler, job_id_for
from tierline.platform.jobs.models import TenantJob
from tierline.platform.jobs.store import JobStore
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session

from .codec import FORMAT_VERSION, HEADER_SIZE, FieldCodec
from .errors import EncryptionError, IntegrityError
from .kms import Kms
from .store import (
    ENCRYPTED_COLUMNS,
    EncryptedColumn,
    KeyStep,
    activate_next_key,
    kms_from_settings,
    load_codec,
)

log = logging.getLogger(__name__)

ROTATE = "keys.rotate"
BATCH_SIZE = 2000
# Passes over the columns: the first does the work; a later one only finds values that a process
# still holding the previous codec wrote while the first pass was under way.
MAX_PASSES = 3
# How many unreadable row keys per column the job result lists (the count is always complete).
UNREADABLE_LISTED = 20

Progress = Callable[[float, str], Awaitable[None]]
ProgressCallback = Callable[[float, str], None]


class RotationFailed(EncryptionError):
    """The rotation job ended without finishing; running it again resumes it."""


@dataclass
class RewriteReport:
    """What step 2 did, per column (``table.column``)."""

    rewritten: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())

    @property
    def unreadable_count(self) -> int:
        return sum(len(keys) for keys in self.unreadable.values())


# ---------------------------------------------------------------------------------------------
# Step 1: the new key


async def rotate_key_step(
    tenant: TenantRef, kms: Kms, from_version: int, actor: Actor, databases: Databases | None
) -> KeyStep:
    """Activate the successor of ``from_version`` (unless a previous run did) and audit it."""
    async with tenant_session(tenant, databases) as session:
        step = await activate_next_key(session, tenant, kms, from_version)
        if step.created:
            await record(
                session,
                actor=actor.name,
                actor_kind=actor.kind,
                action=ROTATE,
                object_type="data_key",
                object_id=str(step.after),
                before={"active_version": step.before, "versions": list(step.versions[:-1])},
                after={
                    "active_version": step.after,
                    "versions": list(step.versions),
                    "kek_id": kms.key_id,
                },
                request_id=actor.request_id,
                client_ip=actor.client_ip,
            )
    return step


# ---------------------------------------------------------------------------------------------
# Step 2: re-encryption


def load_domain_models() -> None:
    """Import every package's ``models`` so each registers its encrypted columns: a column the
    walk does not know about would keep values under a retired key."""
    from tierline.platform.assembly import load_models

    load_models()


def _seal_header(version: int) -> bytes:
    return bytes((FORMAT_VERSION,)) + version.to_bytes(HEADER_SIZE - 1, "big")


def _stale(spec: EncryptedColumn, header: bytes) -> ColumnElement[bool]:
    """Values not sealed under the active key. Empty values hold nothing to re-encrypt (a row
    written before its secret was sealed), so they are left alone like NULLs."""
    col = spec.table.c[spec.column]
    return and_(
        col.is_not(None),
        func.octet_length(col) > 0,
        func.substring(col, 1, HEADER_SIZE) != literal(header, LargeBinary),
    )


async def _count_stale(
    tenant: TenantRef, databases: Databases | None, header: bytes
) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with tenant_connection(tenant, databases) as conn:
        for spec in ENCRYPTED_COLUMNS:
            query = select(func.count()).select_from(spec.table).where(_stale(spec, header))
            counts[spec.name] = int((await conn.execute(query)).scalar_one())
    return counts


def _reencrypt(
    codec: FieldCodec, spec: EncryptedColumn, blobs: list[bytes | None], keys: list[str]
) -> tuple[list[bytes | None], list[str]]:
    """New blobs (the same object where nothing changes) and the row keys that failed."""
    try:
        return codec.reencrypt_many(blobs, **spec.cells(keys)), []
    except IntegrityError:
        pass
    # Find the bad values one by one: a tampered or misplaced value is reported, never
    # rewritten, and must not hold up the rotation of every other value.
    out: list[bytes | None] = []
    bad: list[str] = []
    for blob, key in zip(blobs, keys, strict=True):
        try:
            out.append(codec.reencrypt(blob, **spec.cell(key)))
        except IntegrityError:
            out.append(blob)
            bad.append(key)
    return out, bad


@dataclass
class _Batch:
    seen: int
    rewritten: int
    bad: list[str]
    last: tuple[Any, ...] | None


def _write_back(spec: EncryptedColumn) -> Any:
    """UPDATE of one value, only if it still holds the blob that was read (compare-and-set)."""
    pk = list(spec.table.primary_key.columns)
    col = spec.table.c[spec.column]
    return (
        sql_update(spec.table)
        .where(
            *[c == bindparam(f"tl_k{i}") for i, c in enumerate(pk)],
            col == bindparam("tl_old", type_=LargeBinary),
        )
        .values({spec.column: bindparam("tl_new", type_=LargeBinary)})
    )


async def _rewrite_batch(
    tenant: TenantRef,
    databases: Databases | None,
    spec: EncryptedColumn,
    codec: FieldCodec,
    after: tuple[Any, ...] | None,
    batch_size: int,
) -> _Batch:
    """Re-encrypt the next ``batch_size`` stale values after key ``after``, in one transaction."""
    pk = list(spec.table.primary_key.columns)
    header = _seal_header(codec.keyring.active_version)
    query = (
        select(*pk, spec.row_key, spec.table.c[spec.column])
        .where(_stale(spec, header))
        .order_by(*pk)
        .limit(batch_size)
    )
    if after is not None:
        bound = [literal(value, c.type) for value, c in zip(after, pk, strict=True)]
        query = query.where(tuple_(*pk) > tuple_(*bound))
    async with tenant_connection(tenant, databases) as conn:
        rows = (await conn.execute(query)).all()
        if not rows:
            return _Batch(0, 0, [], None)
        n = len(pk)
        keys = [str(r[n]) for r in rows]
        blobs: list[bytes | None] = [bytes(r[n + 1]) for r in rows]
        sealed, bad = _reencrypt(codec, spec, blobs, keys)
        changes = [
            {**{f"tl_k{i}": r[i] for i in range(n)}, "tl_old": old, "tl_new": new}
            for r, old, new in zip(rows, blobs, sealed, strict=True)
            if new is not old
        ]
        if changes:
            await conn.execute(_write_back(spec), changes)
    return _Batch(len(rows), len(changes), bad, tuple(rows[-1][:n]))


@dataclass
class _Tally:
    """Progress over all passes: values done out of values found stale."""

    total: int = 0
    done: int = 0

    def fraction(self) -> float:
        return 0.05 + 0.9 * min(1.0, self.done / max(self.total, 1))


async def _rewrite_column(
    tenant: TenantRef,
    databases: Databases | None,
    spec: EncryptedColumn,
    codec: FieldCodec,
    batch_size: int,
    report: RewriteReport,
    tally: _Tally,
    progress: Progress,
) -> None:
    after: tuple[Any, ...] | None = None
    bad = report.unreadable.setdefault(spec.name, [])
    batch_size = min(batch_size, spec.batch_rows or batch_size)
    while True:
        batch = await _rewrite_batch(tenant, databases, spec, codec, after, batch_size)
        report.rewritten[spec.name] = report.rewritten.get(spec.name, 0) + batch.rewritten
        bad.extend(key for key in batch.bad if key not in bad)
        tally.done += batch.seen
        if batch.seen:
            await progress(
                tally.fraction(),
                f"re-encrypting {spec.name}: {tally.done:,} of {tally.total:,} values",
            )
        if batch.last is None or batch.seen < batch_size:
            return
        after = batch.last


async def reencrypt_tenant(
    tenant: TenantRef,
    kms: Kms,
    databases: Databases | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> RewriteReport:
    """Re-encrypt every registered column of ``tenant`` under its active key version."""
    report = progress or _no_progress
    load_domain_models()
    result = RewriteReport()
    tally = _Tally()
    for _ in range(MAX_PASSES):
        # Reloaded per pass: cheap (cached), and follows a rotation made in between.
        codec = await load_codec(tenant, kms, databases)
        stale = await _count_stale(tenant, databases, _seal_header(codec.keyring.active_version))
        # Values that failed to open stay stale; only the others call for another pass.
        if sum(stale.values()) <= result.unreadable_count:
            break
        tally.total += sum(stale.values()) - result.unreadable_count
        for spec in ENCRYPTED_COLUMNS:
            if stale[spec.name]:
                await _rewrite_column(
                    tenant, databases, spec, codec, batch_size, result, tally, report
                )
    return result


async def _no_progress(_fraction: float, _message: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# The job


def _actor_of(params: dict[str, Any]) -> Actor:
    return Actor(str(params.get("actor") or "system"), str(params.get("actor_kind") or "system"))


def _summary(step: KeyStep, report: RewriteReport) -> dict[str, Any]:
    return {
        "from_version": step.before,
        "to_version": step.after,
        "created_key": step.created,
        "rewritten": report.total,
        "columns": dict(report.rewritten),
        "unreadable": report.unreadable_count,
        "unreadable_rows": {
            name: keys[:UNREADABLE_LISTED] for name, keys in report.unreadable.items() if keys
        },
    }


@job_handler(ROTATE)
async def rotate(run: JobRun) -> dict[str, Any]:
    """Rotate the tenant's data key and re-encrypt its values; safe to run again."""
    if run.tenant is None or not isinstance(run.params.get("from_version"), int):
        # ValueError: a malformed job is refused at once, retrying cannot mend it.
        raise ValueError("a key rotation job needs a tenant and params.from_version")
    tenant, databases = run.tenant, run.runtime.databases
    kms = kms_from_settings(run.runtime.settings)
    step = await rotate_key_step(
        tenant, kms, run.params["from_version"], _actor_of(run.params), databases
    )
    verb = "created" if step.created else "resuming with"
    await run.progress(0.05, f"{verb} data key v{step.after}")
    batch_size = int(run.params.get("batch_size") or BATCH_SIZE)
    report = await reencrypt_tenant(tenant, kms, databases, run.progress, batch_size)
    if report.unreadable_count:
        log.warning(
            "key rotation of %s left %d unreadable values under old keys",
            tenant.slug,
            report.unreadable_count,
        )
    return _summary(step, report)


# ---------------------------------------------------------------------------------------------
# Submitting and running inline


async def _unfinished_rotation(
    runtime: Runtime, tenant: TenantRef
) -> tuple[str, dict[str, Any]] | None:
    """The latest rotation job, unless it succeeded: that one must be finished, not replaced."""
    async with tenant_session(tenant, runtime.databases) as session:
        row = (
            await session.execute(
                select(TenantJob.id, TenantJob.status, TenantJob.params)
                .where(TenantJob.kind == ROTATE)
                .order_by(TenantJob.created_at.desc())
                .limit(1)
            )
        ).one_or_none()
    if row is None or row.status == "succeeded":
        return None
    return row.id, dict(row.params or {})


async def submit_rotation(
    runtime: Runtime,
    tenant: TenantRef,
    actor: Actor,
    *,
    enqueue: bool = True,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """The rotation job row: the unfinished one if any, else a new one rotating from the active
    version. ``enqueue=False`` leaves it to the caller to run (the CLI runs it inline)."""
    pending = await _unfinished_rotation(runtime, tenant)
    if pending is not None:
        job_id, params = pending
    else:
        # load_codec also gives a key to a tenant created before data keys existed.
        codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
        version = codec.keyring.active_version
        params = {"from_version": version, "actor": actor.name, "actor_kind": actor.kind}
        job_id = job_id_for(ROTATE, tenant.slug, f"from-v{version}")
    if batch_size is not None:
        params["batch_size"] = batch_size
    store = JobStore.for_scope(runtime, tenant)
    row, needs_enqueue = await store.create(job_id, ROTATE, params, actor.name)
    if enqueue and needs_enqueue:
        from tierline.platform.jobs.service import enqueue as hand_to_redis

        await hand_to_redis(runtime, store, job_id, tenant)
    return row


async def _run_inline(runtime: Runtime, tenant: TenantRef, job_id: str) -> dict[str, Any]:
    from arq import Retry

    from tierline.platform.jobs.worker import MAX_ATTEMPTS, execute_job

    for _ in range(MAX_ATTEMPTS):
        try:
            await execute_job(runtime, tenant.slug, job_id)
        except Retry:
            # A transient failure: the row is queued again and the next attempt resumes.
            await asyncio.sleep(1)
            continue
        break
    return await get_tenant_job(runtime, tenant, job_id)


async def _watch(
    runtime: Runtime, tenant: TenantRef, job_id: str, on_progress: ProgressCallback
) -> None:
    """Mirror the job row's progress (what the UI shows) into ``on_progress`` until cancelled."""
    while True:
        row = await get_tenant_job(runtime, tenant, job_id)
        on_progress(float(row["progress"]), str(row["message"]))
        await asyncio.sleep(0.25)


async def rotate_keys(
    runtime: Runtime,
    tenant: TenantRef,
    actor: Actor,
    on_progress: ProgressCallback | None = None,
    *,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Rotate ``tenant``'s data key in this process (the CLI), resuming an unfinished rotation.

    The job row is written but not handed to Redis, so no worker runs the same rotation at the
    same time; were this process to die, running it again resumes. Returns the job result;
    raises :class:`RotationFailed` when the job did not succeed.
    """
    row = await submit_rotation(runtime, tenant, actor, enqueue=False, batch_size=batch_size)
    watcher = (
        asyncio.create_task(_watch(runtime, tenant, row["id"], on_progress))
        if on_progress is not None
        else None
    )
    try:
        done = await _run_inline(runtime, tenant, row["id"])
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    if done["status"] != "succeeded":
        raise RotationFailed(
            f"key rotation of '{tenant.slug}' did not finish ({done['error'] or done['status']}); "
            "run it again to resume"
        )
    if on_progress is not None:
        on_progress(1.0, "done")
    result: dict[str, Any] = done["result"] or {}
    return result
