"""Policy runs: compute a published policy over the tenant's history and keep the result.

A run writes its row, its results (COPY), its archived statistics and its audit entry in one
transaction, keyed by its job id so a retried job finds the first one's run. It takes force at
once, unless the share of SKU-locations whose safety stock moves by more than the document's
``change_threshold`` (relative) is above zero against the run in force: then it waits,
``pending_approval``, until someone with ``inventory:approve`` decides.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.document import PolicyDocument, content_hash
from tierline.inventory.engine import (
    ENGINE_VERSION,
    KEY,
    RESULT_COLUMNS,
    assign_segments,
    compute_results,
    results_digest,
)
from tierline.inventory.formulas import Flag
from tierline.inventory.loading import RunInputs, load_inputs
from tierline.inventory.models import InventoryPolicyRun, InventoryRunSnapshot
from tierline.inventory.store import PolicyRefused, PublishedPolicy, published
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.frames import copy_frame, read_frame
from tierline.platform.jobs.service import submit_tenant_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

RUN_JOB = "inventory.policy_run"
TRIGGERS = ("manual", "api", "cli", "demo", "schedule")
Progress = Callable[[float, str], Awaitable[None]]


async def _quiet(_fraction: float, _message: str) -> None:
    return None


class RunNotFound(DomainError, LookupError):
    status_code = 404
    title = "Policy run not found"


@dataclass
class RunOutcome:
    run_id: uuid.UUID
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": str(self.run_id),
            "status": self.status,
            "counts": self.counts,
            "message": self.message,
        }


@dataclass(frozen=True)
class Computed:
    """The pure part of a run: archived inputs (statistics with segments) and results."""

    snapshot: pl.DataFrame
    results: pl.DataFrame


def compute(policy: PublishedPolicy, inputs: RunInputs) -> Computed:
    """Segments, then numbers: the same for a run, a verification and the calculator."""
    doc = policy.document
    segments = assign_segments(
        inputs.statistics.select(KEY),
        doc,
        inputs.product_segments,
        inputs.customer_demand,
        inputs.segment_rank,
    )
    snapshot = inputs.statistics.join(segments, on=KEY, how="left")
    results = compute_results(inputs.statistics, segments, doc, inputs.targets)
    return Computed(snapshot, results)


def recompute(doc: PolicyDocument, snapshot: pl.DataFrame, targets: Any) -> pl.DataFrame:
    """The results of an archived run from its snapshot and the targets it recorded."""
    segments = snapshot.select(*KEY, "segment_code", "segment_weights")
    statistics = snapshot.drop("segment_code", "segment_weights")
    return compute_results(statistics, segments, doc, targets)


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def flag_counts(results: pl.DataFrame) -> dict[str, int]:
    """How many results carry each flag."""
    flags = results["flags"].to_numpy()
    return {
        f.name.lower(): int(((flags & int(f)) != 0).sum())
        for f in Flag
        if f and f.name and ((flags & int(f)) != 0).any()
    }


def changes_beyond(new: pl.DataFrame, current: pl.DataFrame | None, threshold: float) -> int:
    """SKU-locations present in both whose safety stock moves by more than ``threshold`` of
    the current value (at least one unit, so 0 → 0.4 is not a change)."""
    if current is None or current.is_empty():
        return 0
    both = new.select(*KEY, "safety_stock").join(
        current.select(*KEY, pl.col("safety_stock").alias("_old")), on=KEY, how="inner"
    )
    old = pl.col("_old").fill_null(0.0)
    delta = (pl.col("safety_stock").fill_null(0.0) - old).abs()
    beyond = delta > pl.max_horizontal(old.abs() * threshold, pl.lit(1.0))
    return int(both.select(beyond.sum()).item() or 0)


async def submit_run(
    runtime: Runtime,
    tenant: TenantRef,
    policy_code: str,
    actor: ActingParty,
    *,
    as_of: date | None = None,
    trigger: str = "manual",
) -> dict[str, Any]:
    """Queue a run as a job (a fresh job id each time)."""
    if trigger not in TRIGGERS:
        raise PolicyRefused(f"unknown trigger '{trigger}'")
    async with tenant_session(tenant, runtime.databases) as session:
        await published(session, policy_code)  # refuses an unknown or unpublished policy now
    params = {
        "policy": policy_code,
        "as_of": as_of.isoformat() if as_of else None,
        "trigger": trigger,
        "actor": actor.name,
        "actor_kind": actor.kind,
        "request_id": actor.request_id,
    }
    key = f"{policy_code}:{uuid.uuid4().hex}"
    return await submit_tenant_job(runtime, tenant, RUN_JOB, params, key, created_by=actor.name)


async def current_results(session: AsyncSession) -> tuple[uuid.UUID | None, pl.DataFrame | None]:
    """The run in force and its results (None, None when no run is)."""
    run_id = await session.scalar(
        select(InventoryPolicyRun.id)
        .where(InventoryPolicyRun.in_force_from.is_not(None))
        .order_by(InventoryPolicyRun.in_force_from.desc())
        .limit(1)
    )
    if run_id is None:
        return None, None
    return run_id, await run_results(session, run_id)


async def run_results(session: AsyncSession, run_id: uuid.UUID) -> pl.DataFrame:
    conn = await session.connection()
    columns = ", ".join(RESULT_COLUMNS)
    return await read_frame(
        conn,
        f"SELECT {columns} FROM inventory_policy_results WHERE run_id = $1 "
        "ORDER BY sku, location_code",
        RESULT_COLUMNS,
        run_id,
    )


async def run_policy(
    runtime: Runtime,
    tenant: TenantRef,
    policy_code: str,
    *,
    actor: ActingParty,
    as_of: date | None = None,
    trigger: str = "manual",
    job_id: str | None = None,
    progress: Progress = _quiet,
) -> RunOutcome:
    """Compute and write one run; a retry with the same ``job_id`` returns the first one."""
    now = datetime.now(UTC)
    as_of = as_of or now.date()
    async with tenant_session(tenant, runtime.databases) as session:
        existing = await _existing(session, job_id)
        if existing is not None:
            return _outcome(existing)
        policy = await published(session, policy_code)
        await progress(0.1, "reading order history and lead times")
        inputs = await load_inputs(session, policy.document, as_of)
    await progress(0.4, "computing safety stock and reorder points")
    computed = await asyncio.to_thread(compute, policy, inputs)
    await progress(0.7, "writing results")
    return await _write(session_args=(runtime, tenant), policy=policy, inputs=inputs,
                        computed=computed, actor=actor, as_of=as_of, trigger=trigger,
                        job_id=job_id, now=now)  # fmt: skip


async def _write(
    *,
    session_args: tuple[Runtime, TenantRef],
    policy: PublishedPolicy,
    inputs: RunInputs,
    computed: Computed,
    actor: ActingParty,
    as_of: date,
    trigger: str,
    job_id: str | None,
    now: datetime,
) -> RunOutcome:
    runtime, tenant = session_args
    results = computed.results
    snapshot_bytes = await asyncio.to_thread(_parquet, computed.snapshot)
    digest = await asyncio.to_thread(results_digest, results)
    async with tenant_session(tenant, runtime.databases) as session:
        conn = await session.connection()
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"inv:{policy.code}"}
        )
        existing = await _existing(session, job_id)
        if existing is not None:  # a parallel retry won
            return _outcome(existing)
        current_id, current = await current_results(session)
        changed = changes_beyond(results, current, policy.document.change_threshold)
        waits = changed > 0
        counts = {
            "sku_locations": results.height,
            "computed": int(results["safety_stock"].is_not_null().sum()),
            "refused": int(results["safety_stock"].is_null().sum()),
            "changed_beyond_threshold": changed,
            "flags": flag_counts(results),
        }
        row = InventoryPolicyRun(
            id=uuid.uuid4(),
            policy_code=policy.code,
            version=policy.version,
            content_hash=policy.content_hash,
            engine_version=ENGINE_VERSION,
            as_of=as_of,
            status="pending_approval" if waits else "succeeded",
            trigger=trigger,
            requested_by=actor.name,
            job_id=job_id,
            started_at=now,
            finished_at=datetime.now(UTC),
            in_force_from=None if waits else datetime.now(UTC),
            inputs={
                "targets": inputs.targets,
                "segment_rank": inputs.segment_rank,
                "scheme_entity": inputs.entity,
                "previous_run": str(current_id) if current_id else None,
            },
            counts=counts,
            warnings=[],
            message=(
                f"{changed} SKU-locations change safety stock by more than "
                f"{policy.document.change_threshold:.0%}: waiting for approval"
                if waits
                else None
            ),
        )
        session.add(row)
        await session.flush()
        await copy_frame(
            conn,
            "inventory_policy_results",
            results.with_columns(pl.lit(str(row.id)).alias("run_id")),
        )
        session.add(
            InventoryRunSnapshot(run_id=row.id, statistics=snapshot_bytes, results_digest=digest)
        )
        await record_by(
            session,
            actor,
            "inventory.run",
            "inventory_policy_run",
            str(row.id),
            after={"policy": policy.code, "version": policy.version, "counts": counts},
        )
    return RunOutcome(row.id, row.status, counts, row.message)


async def _existing(session: AsyncSession, job_id: str | None) -> InventoryPolicyRun | None:
    if job_id is None:
        return None
    found = await session.execute(
        select(InventoryPolicyRun).where(InventoryPolicyRun.job_id == job_id)
    )
    return found.scalar_one_or_none()


def _outcome(row: InventoryPolicyRun) -> RunOutcome:
    return RunOutcome(row.id, row.status, dict(row.counts or {}), row.message)


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> InventoryPolicyRun:
    row = await session.get(InventoryPolicyRun, run_id)
    if row is None:
        raise RunNotFound(f"no policy run {run_id}")
    return row


def runs_query(limit: int = 50) -> Select[Any]:
    """The latest runs, newest first."""
    return select(InventoryPolicyRun).order_by(InventoryPolicyRun.started_at.desc()).limit(limit)


async def list_runs(session: AsyncSession, limit: int = 50) -> list[InventoryPolicyRun]:
    found: list[InventoryPolicyRun] = list((await session.execute(runs_query(limit))).scalars())
    return found


async def decide_run(
    session: AsyncSession, run_id: uuid.UUID, approve: bool, actor: ActingParty, reason: str
) -> InventoryPolicyRun:
    """Approve (the run takes force now) or reject a run waiting for approval."""
    row = await get_run(session, run_id)
    if row.status != "pending_approval":
        raise PolicyRefused(f"run {run_id} is {row.status}, not waiting for approval")
    if not reason.strip():
        raise PolicyRefused("a decision needs a reason")
    row.status = "succeeded" if approve else "rejected"
    if approve:
        row.in_force_from = datetime.now(UTC)
    await record_by(
        session,
        actor,
        "inventory.run_approved" if approve else "inventory.run_rejected",
        "inventory_policy_run",
        str(run_id),
        after={"status": row.status},
        reason=reason,
    )
    return row


@dataclass(frozen=True)
class Verification:
    run_id: uuid.UUID
    same: bool
    stored_digest: str
    recomputed_digest: str
    policy_hash_matches: bool
    differing_rows: int


async def verify_run(session: AsyncSession, run_id: uuid.UUID) -> Verification:
    """Recompute an archived run from its snapshot with today's engine and compare."""
    row = await get_run(session, run_id)
    snapshot = await session.get(InventoryRunSnapshot, run_id)
    if snapshot is None:
        raise RunNotFound(f"run {run_id} has no archived inputs")
    policy = await published(session, row.policy_code, row.version)
    frame = pl.read_parquet(io.BytesIO(snapshot.statistics))
    recomputed = recompute(policy.document, frame, row.inputs.get("targets", {}))
    stored = await run_results(session, run_id)
    digest = results_digest(recomputed)
    joined = recomputed.join(stored, on=KEY, how="full", suffix="_stored")
    differing = joined.filter(
        ~pl.col("safety_stock").eq_missing(pl.col("safety_stock_stored"))
        & ((pl.col("safety_stock") - pl.col("safety_stock_stored")).abs().fill_null(1.0) > 1e-6)
    ).height
    return Verification(
        run_id=run_id,
        same=digest == snapshot.results_digest and differing == 0,
        stored_digest=snapshot.results_digest,
        recomputed_digest=digest,
        policy_hash_matches=content_hash(policy.document) == row.content_hash,
        differing_rows=differing,
    )
