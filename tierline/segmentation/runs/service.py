"""Classification runs: read, classify, decide, write — everything visible in one commit.

A run reads the published scheme and the window's order history, computes features and
classes in worker threads, decides every entity's outcome against the assignments in force
(:mod:`stability`), lets the move guards other domains registered hold moves for a decision
(``segmentation.service.MOVE_GUARDS``: service levels hold moves below a customer's contract)
and then, in ONE transaction, writes the run row, its results, the archived feature snapshot,
the assignment changes, the pending moves, the hysteresis state and the notifications, and
calls the ``MOVES_APPLIED`` hooks (governance tells customers of their new segment). A crash
before that commit leaves nothing; the job is retried and, because the run row carries the job
id under a unique index, a retry after the commit returns the recorded run instead of running
twice.

Runs of one scheme are serialised with a transaction-scoped advisory lock. The as-of date is
checked before anything is read (:func:`as_of_refusal`): not more than
:data:`FUTURE_TOLERANCE` ahead of today (UTC), not before the scheme's latest run, and not so
far back that the moves would take effect before the latest change to the scheme's assignments
(an earlier run, an approved move, an override): history is appended, never rewritten. Such a
refusal is recorded as a refused run, like the data-check refusals, and raised as
:class:`RunRefused` (a ``ValueError``: a job fails at once with ``run_refused``, no retry).

Freeze windows follow the dates the moves take effect, not only the as-of date: a run holds its
moves when any day from the earlier of its as-of date and today to the later one is frozen
(:func:`freeze_crossed`), so neither a back-dated nor a forward-dated run applies moves during
a freeze.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.masterdata.service import stale_order_feeds
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.errors import DomainError
from tierline.platform.frames import copy_frame, read_frame
from tierline.platform.jobs.service import submit_tenant_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentAssignment, SegmentationRun, SegmentationScheme
from tierline.segmentation.runs.engine import ENGINE_VERSION, classify, diagnose
from tierline.segmentation.runs.features import compute_features
from tierline.segmentation.runs.hooks import MOVE_GUARDS, MOVES_APPLIED, AppliedMoves, ProposedMoves
from tierline.segmentation.runs.loading import RunInputs, UnreadableMoney, load_inputs
from tierline.segmentation.runs.notices import notify_applied_moves
from tierline.segmentation.runs.snapshots import seal_snapshot
from tierline.segmentation.runs.stability import Decision, decide
from tierline.segmentation.schemes.document import (
    FreezeWindow,
    Scheme,
    in_freeze,
    next_run_after,
)
from tierline.segmentation.schemes.store import PublishedScheme, published

RUN_JOB = "segmentation.run"
TRIGGERS = ("manual", "schedule", "api", "cli", "demo")
FUTURE_TOLERANCE = timedelta(days=1)  # an as-of date may be tomorrow (UTC): time zones

Progress = Callable[[float, str], Awaitable[None]]


async def _quiet(_fraction: float, _message: str) -> None:
    return None


class RunRefused(DomainError, ValueError):
    """A run that must not happen (its as-of date, its data): recorded, never retried."""

    status_code = 409
    title = "Classification run refused"


@dataclass
class RunOutcome:
    run_id: uuid.UUID
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": str(self.run_id),
            "status": self.status,
            "counts": self.counts,
            "warnings": self.warnings,
            "message": self.message,
        }


@dataclass(frozen=True)
class Classified:
    """What the pure part of a run produced."""

    inputs: RunInputs
    features: pl.DataFrame
    results: pl.DataFrame


# --- submitting --------------------------------------------------------------------------------


async def submit_run(
    runtime: Runtime,
    tenant: TenantRef,
    scheme_code: str,
    actor: ActingParty,
    *,
    as_of: date | None = None,
    trigger: str = "manual",
    slot: str | None = None,
) -> dict[str, Any]:
    """Queue a run as a job. ``slot`` (a schedule's due time) makes the job id deterministic so
    a schedule fires once per slot; manual runs get a fresh id each time."""
    if trigger not in TRIGGERS:
        raise RunRefused(f"unknown trigger '{trigger}'")
    if as_of is not None:
        future = future_refusal(as_of, datetime.now(UTC))
        if future is not None:
            raise RunRefused(future)
    async with tenant_session(tenant, runtime.databases) as session:
        await published(session, scheme_code)  # refuses an unknown or unpublished scheme now
    key = f"{scheme_code}:{slot}" if slot else f"{scheme_code}:{uuid.uuid4().hex}"
    params = {
        "scheme": scheme_code,
        "as_of": as_of.isoformat() if as_of else None,
        "trigger": trigger,
        "actor": actor.name,
        "actor_kind": actor.kind,
        "request_id": actor.request_id,
    }
    return await submit_tenant_job(runtime, tenant, RUN_JOB, params, key, created_by=actor.name)


# --- the pure part, shared by runs, dry runs and verification ----------------------------------


def classify_inputs(scheme: Scheme, inputs: RunInputs, as_of: date) -> Classified:
    """Features and classes from loaded inputs (CPU only; call in a thread)."""
    features = compute_features(scheme, inputs.orders, inputs.entities, as_of)
    return Classified(inputs, features, classify(scheme, features))


def results_digest(results: pl.DataFrame) -> str:
    """A hash of what a run decided per entity, independent of row order."""
    columns = ["entity_key", "segment", "abc", "xyz", "source", "rule"]
    frame = results.select(
        [
            pl.col(c).cast(pl.String) if c in results.columns else pl.lit(None, pl.String).alias(c)
            for c in columns
        ]
    ).sort("entity_key")
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return "sha256:" + hashlib.sha256(buffer.getvalue()).hexdigest()


async def load_and_classify(
    runtime: Runtime, tenant: TenantRef, scheme: Scheme, as_of: date, progress: Progress = _quiet
) -> Classified:
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    await progress(0.05, "reading order history")
    async with tenant_session(tenant, runtime.databases) as session:
        conn = await session.connection()
        inputs = await load_inputs(conn, codec, scheme, as_of)
    await progress(0.45, f"classifying {inputs.entities.height:,} entities")
    return await asyncio.to_thread(classify_inputs, scheme, inputs, as_of)


# --- checks before a run writes anything ------------------------------------------------------


def effective_time(as_of: date, now: datetime) -> datetime:
    """When the run's assignments take effect: now for today's run, else the as-of day."""
    if as_of >= now.date():
        return now
    return datetime.combine(as_of, time(), UTC)


def future_refusal(as_of: date, now: datetime) -> str | None:
    """Why ``as_of`` is too far in the future (beyond :data:`FUTURE_TOLERANCE`), or None."""
    latest = now.date() + FUTURE_TOLERANCE
    if as_of <= latest:
        return None
    return (
        f"as-of {as_of} is in the future; a run may be dated at most "
        f"{FUTURE_TOLERANCE.days} day after today ({now.date()}, UTC)"
    )


def as_of_refusal(
    code: str,
    as_of: date,
    now: datetime,
    previous: date | None,
    latest_change: datetime | None,
) -> str | None:
    """Why a run of ``code`` as of ``as_of`` must not happen, or None. ``previous`` is the
    as-of date of the scheme's latest succeeded run, ``latest_change`` the latest start or end
    of any of its assignments (runs, approved moves, overrides)."""
    future = future_refusal(as_of, now)
    if future is not None:
        return future
    if previous is not None and as_of < previous:
        return (
            f"as-of {as_of} is before the latest run of '{code}' ({previous}); "
            "assignment history is appended, never rewritten"
        )
    at = effective_time(as_of, now)
    if latest_change is not None and at < latest_change:
        return (
            f"as-of {as_of} would make moves take effect before the latest change to the "
            f"assignments of '{code}' ({latest_change.astimezone(UTC):%Y-%m-%d %H:%M} UTC: a run, "
            "an approved move or an override); assignment history is appended, never "
            f"rewritten: run as of {latest_change.astimezone(UTC).date()} or later"
        )
    return None


def freeze_crossed(scheme: Scheme, as_of: date, today: date) -> tuple[FreezeWindow, date] | None:
    """The first freeze window holding any day between ``as_of`` and ``today`` (both included,
    in either order), with that day: the days on which the run's moves would take effect."""
    if not scheme.schedule.freeze:
        return None
    start, end = sorted((as_of, today))
    end = min(end, start + timedelta(days=366))  # a year or more crosses every window
    day = start
    while day <= end:
        window = in_freeze(scheme, day)
        if window is not None:
            return window, day
        day += timedelta(days=1)
    return None


async def _latest_change(session: AsyncSession, code: str) -> datetime | None:
    a = SegmentAssignment
    latest: datetime | None = (
        await session.execute(
            select(
                func.max(func.greatest(a.valid_from, func.coalesce(a.valid_to, a.valid_from)))
            ).where(a.scheme_code == code)
        )
    ).scalar_one()
    return latest


async def _previous_as_of(session: AsyncSession, code: str) -> date | None:
    return (
        await session.execute(
            select(func.max(SegmentationRun.as_of)).where(
                SegmentationRun.scheme_code == code, SegmentationRun.status == "succeeded"
            )
        )
    ).scalar_one()


async def _existing_run(session: AsyncSession, job_id: str | None) -> SegmentationRun | None:
    if job_id is None:
        return None
    return (
        await session.execute(select(SegmentationRun).where(SegmentationRun.job_id == job_id))
    ).scalar_one_or_none()


def _outcome_of(row: SegmentationRun) -> RunOutcome:
    return RunOutcome(row.id, row.status, row.counts, list(row.warnings), row.message)


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    tenant: TenantRef
    found: PublishedScheme
    as_of: date
    trigger: str
    actor: ActingParty
    job_id: str | None
    now: datetime


async def run_scheme(
    runtime: Runtime,
    tenant: TenantRef,
    scheme_code: str,
    *,
    actor: ActingParty,
    as_of: date | None = None,
    trigger: str = "manual",
    job_id: str | None = None,
    progress: Progress = _quiet,
) -> RunOutcome:
    now = datetime.now(UTC)
    as_of = as_of or now.date()
    async with tenant_session(tenant, runtime.databases) as session:
        existing = await _existing_run(session, job_id)
        if existing is not None:
            return _outcome_of(existing)
        found = await published(session, scheme_code)
        previous = await _previous_as_of(session, scheme_code)
        latest_change = await _latest_change(session, scheme_code)
        stale = await stale_order_feeds(session, now)
    ctx = _Context(tenant, found, as_of, trigger, actor, job_id, now)
    refusal = as_of_refusal(scheme_code, as_of, now, previous, latest_change)
    if refusal is not None:
        await _refuse(runtime, ctx, refusal)
        raise RunRefused(refusal)
    scheme = found.scheme
    warnings: list[str] = []
    if stale and scheme.data_checks.stale_feeds == "refuse":
        return await _refuse(runtime, ctx, "stale order-history feeds: " + "; ".join(stale))
    if stale and scheme.data_checks.stale_feeds == "warn":
        warnings.extend(f"stale: {s}" for s in stale)
    try:
        classified = await load_and_classify(runtime, tenant, scheme, as_of, progress)
    except UnreadableMoney as exc:
        return await _refuse(runtime, ctx, str(exc))
    if classified.inputs.orders.is_empty():
        message = (
            f"no order lines between {classified.inputs.window_start} and {as_of} "
            "(the scheme's window)"
        )
        if scheme.data_checks.empty_history == "refuse":
            return await _refuse(runtime, ctx, message + "; nothing was classified")
        warnings.append(message + "; every entity was classified on zero demand")
    if classified.results.is_empty():
        return await _refuse(runtime, ctx, "there are no entities to classify")
    await progress(0.7, "writing results")
    return await _write(runtime, ctx, classified, warnings)


async def _refuse(runtime: Runtime, ctx: _Context, message: str) -> RunOutcome:
    """Record a refused run (no results, nothing changed) so the page can say why."""
    async with tenant_session(ctx.tenant, runtime.databases) as session:
        row = _run_row(ctx, "refused", {}, {}, [], message)
        session.add(row)
        await session.flush()
        await record_by(
            session,
            ctx.actor,
            "segments.run",
            "segmentation_run",
            str(row.id),
            after={"scheme": ctx.found.code, "status": "refused"},
            reason=message,
        )
    return RunOutcome(row.id, "refused", {}, [], message)


def _run_row(
    ctx: _Context,
    status: str,
    inputs: dict[str, Any],
    counts: dict[str, Any],
    warnings: list[str],
    message: str | None,
) -> SegmentationRun:
    return SegmentationRun(
        id=uuid.uuid4(),
        scheme_code=ctx.found.code,
        version=ctx.found.version.version,
        content_hash=ctx.found.version.content_hash,
        engine_version=ENGINE_VERSION,
        as_of=ctx.as_of,
        status=status,
        trigger=ctx.trigger,
        requested_by=ctx.actor.name,
        job_id=ctx.job_id,
        started_at=ctx.now,
        finished_at=datetime.now(UTC),
        inputs=inputs,
        counts=counts,
        warnings=warnings,
        message=message,
    )


def _inputs_record(ctx: _Context, classified: Classified) -> dict[str, Any]:
    inputs = classified.inputs
    return {
        "as_of": ctx.as_of.isoformat(),
        "window_start": inputs.window_start.isoformat(),
        "window_end": inputs.window_end.isoformat(),
        "order_lines": inputs.orders.height,
        "entities": classified.results.height,
        "decrypted": list(inputs.decrypted),
        "scheme_version": ctx.found.version.version,
        "content_hash": ctx.found.version.content_hash,
        "engine_version": ENGINE_VERSION,
    }


def defaults_used_counts(results: pl.DataFrame) -> dict[str, int]:
    """Attribute -> how many entities were classified on the scheme's default for it."""
    used = results["defaults_used"].explode().drop_nulls()
    counts = used.value_counts(name="n").sort(used.name)
    return {str(k): int(n) for k, n in counts.iter_rows()}


def _counts(decision: Decision, results: pl.DataFrame) -> dict[str, Any]:
    """What a run records: ``segments`` is what the rules gave each entity (the rule result);
    ``outcomes`` says what became of it against the assignments in force (held, frozen and
    pending moves keep the segment in force)."""
    outcomes = decision.outcomes.group_by("outcome").len()
    segments = results.group_by("segment").len()
    return {
        "entities": results.height,
        "outcomes": dict(zip(outcomes["outcome"], outcomes["len"], strict=True)),
        "segments": dict(zip(segments["segment"], segments["len"], strict=True)),
        "share_moving": round(decision.share_moving, 6),
        "defaults_used": defaults_used_counts(results),
    }


async def _state(conn: AsyncConnection, code: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    current = await read_frame(
        conn,
        "SELECT entity_key, segment AS current_segment, source AS current_source "
        "FROM segment_assignments WHERE scheme_code = $1 AND valid_to IS NULL",
        {"entity_key": pl.String, "current_segment": pl.String, "current_source": pl.String},
        code,
    )
    candidates = await read_frame(
        conn,
        "SELECT entity_key, candidate_segment, streak FROM segment_candidates "
        "WHERE scheme_code = $1",
        {"entity_key": pl.String, "candidate_segment": pl.String, "streak": pl.Int64},
        code,
    )
    return current, candidates


def _split_keys(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    key = pl.col("entity_key")
    if entity == "customer":
        return frame.with_columns(customer_code=key, sku=pl.lit(None, pl.String))
    if entity == "product":
        return frame.with_columns(customer_code=pl.lit(None, pl.String), sku=key)
    parts = key.str.split_exact("|", 1)
    return frame.with_columns(
        customer_code=parts.struct.field("field_0"), sku=parts.struct.field("field_1")
    )


async def _write(
    runtime: Runtime, ctx: _Context, classified: Classified, warnings: list[str]
) -> RunOutcome:
    scheme, code = ctx.found.scheme, ctx.found.code
    results = classified.results
    crossed = freeze_crossed(scheme, ctx.as_of, ctx.now.date())
    frozen_by = crossed[0] if crossed else None
    if crossed is not None:
        window, day = crossed
        reason = f" ({window.reason})" if window.reason else ""
        when = "the as-of date" if day == ctx.as_of else f"{day}, a day the moves would cover,"
        warnings.append(
            f"freeze window {window.start} to {window.end}{reason} holds {when}: "
            "moves are held, only new entities are assigned"
        )
    codec = await load_codec(ctx.tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(ctx.tenant, runtime.databases) as session:
        conn = await session.connection()
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"seg:{code}"})
        if await _existing_run(session, ctx.job_id) is not None:  # a parallel retry won
            return _outcome_of(await _existing_run(session, ctx.job_id))  # type: ignore[arg-type]
        current, candidates = await _state(conn, code)
        decision = await asyncio.to_thread(
            decide, scheme, results, current, candidates, frozen=frozen_by is not None
        )
        decision = await _hold_guarded_moves(session, ctx, decision)
        counts = _counts(decision, results)
        row = _run_row(ctx, "succeeded", _inputs_record(ctx, classified), counts, warnings, None)
        snapshot = await asyncio.to_thread(seal_snapshot, codec, row.id, classified.features)
        session.add(row)
        await session.flush()
        await _write_results(conn, row.id, results, decision)
        await _write_assignments(conn, ctx, row.id, results, decision)
        await _write_moves_and_candidates(conn, ctx, row.id, results, decision)
        await conn.execute(
            text(
                "INSERT INTO run_snapshots (run_id, features, results_digest) VALUES (:r, :f, :d)"
            ),
            {"r": row.id, "f": snapshot, "d": results_digest(results)},
        )
        await session.execute(
            update(SegmentationScheme)
            .where(SegmentationScheme.code == code)
            .values(last_run_at=ctx.now, next_run_at=next_run_after(scheme, ctx.now))
        )
        applied = _split_keys(
            decision.outcomes.filter(pl.col("outcome") == "applied"), scheme.entity
        )
        await notify_applied_moves(session, ctx.tenant.slug, row.id, scheme, applied)
        await _moves_applied(session, scheme, applied, ctx.as_of, row.id)
        await record_by(
            session,
            ctx.actor,
            "segments.run",
            "segmentation_run",
            str(row.id),
            after={"scheme": code, "version": ctx.found.version.version, "counts": counts},
        )
    return RunOutcome(row.id, "succeeded", counts, warnings)


async def _hold_guarded_moves(session: AsyncSession, ctx: _Context, decision: Decision) -> Decision:
    """Moves a guard objects to (e.g. one that would put a customer below its contract) wait
    for approval, with the guard's reason, instead of applying. The extension points live in
    the public face, which imports this module: hence the late imports here and below."""

    moving = decision.outcomes.filter(pl.col("outcome").is_in(["new", "applied", "pending"]))
    proposed = ProposedMoves(
        ctx.found.code,
        ctx.found.scheme.entity,
        ctx.as_of,
        moving.select("entity_key", "previous_segment", "segment", "outcome"),
    )
    outcomes = decision.outcomes
    held = False
    for guard in MOVE_GUARDS:
        by_reason: dict[str, list[str]] = {}
        for key, reason in (await guard(session, proposed)).items():
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            hit = pl.col("entity_key").is_in(keys)
            outcomes = outcomes.with_columns(
                outcome=pl.when(hit).then(pl.lit("pending")).otherwise(pl.col("outcome")),
                reasons=pl.when(hit)
                .then(
                    pl.concat_list(pl.col("reasons"), pl.lit([reason])).list.unique(
                        maintain_order=True
                    )
                )
                .otherwise(pl.col("reasons")),
            )
            held = True
    if not held:
        return decision
    return Decision(outcomes, decision.candidates, decision.share_moving)


async def _moves_applied(
    session: AsyncSession, scheme: Scheme, applied: pl.DataFrame, as_of: date, run_id: uuid.UUID
) -> None:
    """Tell the hooks other domains registered, in the run's transaction."""

    for hook in MOVES_APPLIED:
        await hook(session, AppliedMoves(scheme, applied, as_of, run_id))


async def _write_results(
    conn: AsyncConnection, run_id: uuid.UUID, results: pl.DataFrame, decision: Decision
) -> None:
    frame = results.join(
        decision.outcomes.select("entity_key", "previous_segment", "outcome"), on="entity_key"
    ).select(
        pl.lit(str(run_id)).alias("run_id"),
        "entity_key",
        "segment",
        "previous_segment",
        "outcome",
        "abc",
        "xyz",
        "cum_share",
        "cv",
        "source",
        "rule",
        pl.col("defaults_used").cast(pl.List(pl.String)),
    )
    await copy_frame(conn, "run_results", frame)


async def _write_assignments(
    conn: AsyncConnection,
    ctx: _Context,
    run_id: uuid.UUID,
    results: pl.DataFrame,
    decision: Decision,
) -> None:
    """Close the open rows of applied moves and open rows for applied and new entities."""
    code = ctx.found.code
    starting = decision.outcomes.filter(pl.col("outcome").is_in(["new", "applied"])).join(
        results.select("entity_key", "source", "rule"), on="entity_key"
    )
    if starting.is_empty():
        return
    at = effective_time(ctx.as_of, ctx.now)
    moved = starting.filter(pl.col("outcome") == "applied")["entity_key"].to_list()
    if moved:
        await conn.execute(
            text(
                "UPDATE segment_assignments SET valid_to = :at WHERE scheme_code = :c "
                "AND valid_to IS NULL AND entity_key = ANY(:keys)"
            ),
            {"at": at, "c": code, "keys": moved},
        )
    frame = _split_keys(starting, ctx.found.scheme.entity).select(
        pl.lit(code).alias("scheme_code"),
        "entity_key",
        "customer_code",
        "sku",
        "segment",
        pl.lit(at.isoformat()).alias("valid_from"),
        pl.lit(str(run_id)).alias("run_id"),
        "source",
        pl.concat_str(pl.lit("run "), pl.col("outcome"), pl.lit(": "), pl.col("rule")).alias(
            "reason"
        ),
        pl.lit(ctx.actor.name).alias("created_by"),
    )
    await copy_frame(conn, "segment_assignments", frame)


async def _write_moves_and_candidates(
    conn: AsyncConnection,
    ctx: _Context,
    run_id: uuid.UUID,
    results: pl.DataFrame,
    decision: Decision,
) -> None:
    """A new run re-decides every entity: earlier pending moves of the scheme are superseded."""
    code = ctx.found.code
    await conn.execute(
        text(
            "UPDATE pending_moves SET status = 'superseded', decided_at = now(), "
            "decision_reason = 'superseded by run ' || :r "
            "WHERE scheme_code = :c AND status = 'pending'"
        ),
        {"c": code, "r": str(run_id)},
    )
    pending = decision.outcomes.filter(pl.col("outcome") == "pending").join(
        results.select("entity_key", "source"), on="entity_key"
    )
    moves = _split_keys(pending, ctx.found.scheme.entity).select(
        pl.lit(str(run_id)).alias("run_id"),
        pl.lit(code).alias("scheme_code"),
        "entity_key",
        "customer_code",
        "sku",
        pl.col("previous_segment").alias("from_segment"),
        pl.col("segment").alias("to_segment"),
        "reasons",
        "source",
    )
    await copy_frame(conn, "pending_moves", moves)
    await conn.execute(text("DELETE FROM segment_candidates WHERE scheme_code = :c"), {"c": code})
    state = decision.candidates.select(
        pl.lit(code).alias("scheme_code"),
        "entity_key",
        "candidate_segment",
        "streak",
        pl.lit(str(run_id)).alias("last_run_id"),
    )
    await copy_frame(conn, "segment_candidates", state)


# --- dry run -----------------------------------------------------------------------------------

SAMPLES_PER_SEGMENT = 10


@dataclass
class Preview:
    """What publishing and running a document would do now; nothing is written."""

    counts: dict[str, int]
    samples: dict[str, list[dict[str, Any]]]
    moves: list[dict[str, Any]]
    total: int
    warnings: list[str]
    defaults_used: dict[str, int] = field(default_factory=dict)  # attribute -> entities


async def _names(session: AsyncSession, entity: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    if entity == "product":
        sql = "SELECT sku, description FROM products WHERE sku = ANY(:k)"
    else:
        keys = [k.split("|", 1)[0] for k in keys]
        sql = "SELECT code, name FROM customers WHERE code = ANY(:k)"
    rows = await session.execute(text(sql), {"k": keys})
    return {str(key): str(name) for key, name in rows.all()}


async def dry_run(
    runtime: Runtime, tenant: TenantRef, scheme: Scheme, as_of: date | None = None
) -> Preview:
    as_of = as_of or datetime.now(UTC).date()
    classified = await load_and_classify(runtime, tenant, scheme, as_of)
    results = classified.results
    warnings = []
    if classified.inputs.orders.is_empty():
        warnings.append(
            f"no order lines in the window ending {as_of}: every entity has zero demand"
        )
    # rules that would never fire on this data: conditions no entity meets, unknown values
    warnings += await asyncio.to_thread(diagnose, scheme, classified.features)
    async with tenant_session(tenant, runtime.databases) as session:
        current, _ = await _state(await session.connection(), scheme.code)
        top = (
            results.sort(["segment", "cum_share", "entity_key"], nulls_last=True)
            .group_by("segment", maintain_order=True)
            .head(SAMPLES_PER_SEGMENT)
        )
        names = await _names(session, scheme.entity, top["entity_key"].to_list())
    samples: dict[str, list[dict[str, Any]]] = {}
    for row in top.iter_rows(named=True):
        key = row["entity_key"]
        samples.setdefault(row["segment"], []).append(
            {
                "entity_key": key,
                "name": names.get(key.split("|", 1)[0]),
                "abc": row["abc"],
                "xyz": row.get("xyz"),
                "rule": row["rule"],
            }
        )
    moves = (
        results.join(current, on="entity_key", how="left")
        .filter(
            pl.col("current_segment").is_null() | (pl.col("current_segment") != pl.col("segment"))
        )
        .group_by("current_segment", "segment")
        .len()
        .sort("len", descending=True)
    )
    counts = results.group_by("segment").len()
    return Preview(
        counts=dict(zip(counts["segment"], counts["len"], strict=True)),
        samples=samples,
        moves=[
            {"from_segment": r["current_segment"], "to_segment": r["segment"], "count": r["len"]}
            for r in moves.iter_rows(named=True)
        ],
        total=results.height,
        warnings=warnings,
        defaults_used=defaults_used_counts(results),
    )
