"""Reconciliations stored and decided: compare, keep the rows (money at stake sealed), submit
the change set for approval, decide it, write the approved changes back.

One transaction per step, each audited. Rows are written with COPY; the page reads one page
of rows by rank and opens only their sealed values (and only for readers with
``margin:read``)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.inventory.reconciliation.compare import reconcile, summary
from tierline.inventory.reconciliation.models import ErpReconciliation, ErpReconciliationRow
from tierline.inventory.reconciliation.writeback import (
    WritebackRefused,
    writeback_file,
    writeback_rows,
)
from tierline.masterdata.service import (
    Profile,
    erp_parameters,
    sourcing_lanes,
    unit_costs,
    unit_factors,
)
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.db import utcnow
from tierline.platform.encryption import FieldCodec
from tierline.platform.errors import DomainError
from tierline.platform.frames import copy_frame
from tierline.platform.jobs.service import submit_tenant_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

COST_WINDOW_DAYS = 365
ROWS_TABLE = "erp_reconciliation_rows"
STORED = [
    "sku",
    "location_code",
    "segment_code",
    "policy_type",
    "erp_mrp_type",
    "proposed_mrp_type",
    "base_uom",
    "erp_uom",
    "factor",
    "erp_safety_stock",
    "rec_safety_stock",
    "erp_reorder_point",
    "rec_reorder_point",
    "erp_lead_time_days",
    "rec_lead_time_days",
    "days_basis",
    "lane_calendar",
    "proposed_safety_stock",
    "proposed_reorder_point",
    "flags",
    "changed",
]


class ReconciliationNotFound(DomainError):
    status_code = 404
    title = "Not found"


class ReconciliationRefused(DomainError):
    status_code = 409
    title = "Reconciliation refused"


def _row_keys(reconciliation_id: int, frame: pl.DataFrame) -> list[str]:
    prefix = f"{reconciliation_id}/"
    return (prefix + frame["sku"] + "/" + frame["location_code"]).to_list()


def seal_stakes(codec: FieldCodec, reconciliation_id: int, frame: pl.DataFrame) -> pl.Series:
    """The value deltas sealed (``\\x``-hex text for COPY), bound to their rows."""
    values = frame["value_delta"].fill_null(float("nan")).to_numpy()
    present = ~np.isnan(values)
    sealed = codec.encrypt_floats(
        {"value_delta": (np.nan_to_num(values), present)},
        table=ROWS_TABLE,
        row_keys=_row_keys(reconciliation_id, frame),
    )["value_delta"]
    return pl.Series(
        "value_delta_enc", ["\\x" + b.hex() if b is not None else None for b in sealed]
    )


async def compare_with_erp(
    conn: AsyncConnection, recommended: pl.DataFrame, codec: FieldCodec | None, as_of: date
) -> pl.DataFrame:
    """The reconciliation of ``recommended`` against the ERP's parameters as stored now."""
    costs = None
    if codec is not None:
        costs = await unit_costs(conn, codec, as_of - timedelta(days=COST_WINDOW_DAYS))
    erp = await erp_parameters(conn)
    lanes = (await sourcing_lanes(conn)).select("location_code", "calendar")
    units = await unit_factors(conn)
    # CPU work (seconds for a million rows): off the event loop
    return await asyncio.to_thread(reconcile, recommended, erp, lanes, units, costs)


async def store_reconciliation(
    session: AsyncSession,
    reconciled: pl.DataFrame,
    codec: FieldCodec,
    actor: ActingParty,
    as_of: date,
    policy_run_id: uuid.UUID | None = None,
    job_id: str | None = None,
) -> ErpReconciliation:
    """Header, rows (COPY) and an audit entry, in the caller's transaction."""
    counts = summary(reconciled)
    header = ErpReconciliation(
        policy_run_id=policy_run_id,
        job_id=job_id,
        as_of=as_of,
        status="open",
        counts=counts,
        costs_known=bool(reconciled["value_delta"].is_not_null().any()),
        created_by=actor.name,
    )
    session.add(header)
    await session.flush()
    rows = reconciled.with_row_index("stake_rank", offset=1).with_columns(
        pl.col("stake_rank").cast(pl.Int32)
    )
    rows = rows.select(
        pl.lit(header.id, pl.Int64).alias("reconciliation_id"),
        *STORED,
        "stake_rank",
    ).with_columns(await asyncio.to_thread(seal_stakes, codec, header.id, reconciled))
    conn = await session.connection()
    await copy_frame(conn, ROWS_TABLE, rows)
    await record_by(
        session,
        actor,
        "inventory.reconciliation.create",
        "erp_reconciliation",
        str(header.id),
        after={"counts": counts, "policy_run_id": str(policy_run_id) if policy_run_id else None},
    )
    return header


def _is(found: ErpReconciliation) -> str:
    return f"reconciliation {found.id} is {found.status.replace('_', ' ')}"


async def find(session: AsyncSession, reconciliation_id: int) -> ErpReconciliation:
    found = await session.get(ErpReconciliation, reconciliation_id)
    if found is None:
        raise ReconciliationNotFound(f"no reconciliation {reconciliation_id}")
    return found


async def latest(session: AsyncSession) -> ErpReconciliation | None:
    return (
        await session.scalars(
            select(ErpReconciliation).order_by(ErpReconciliation.id.desc()).limit(1)
        )
    ).first()


async def history(
    session: AsyncSession, limit: int = 20, before: int | None = None
) -> list[ErpReconciliation]:
    """The newest first; ``before`` an id: only older ones (keyset paging)."""
    query = select(ErpReconciliation).order_by(ErpReconciliation.id.desc()).limit(limit)
    if before is not None:
        query = query.where(ErpReconciliation.id < before)
    return list(await session.scalars(query))


@dataclass(frozen=True)
class RowPage:
    rows: list[dict[str, Any]]
    total: int
    masked: bool


async def rows_page(
    session: AsyncSession,
    reconciliation_id: int,
    codec: FieldCodec | None,
    *,
    offset: int = 0,
    limit: int = 50,
    changed_only: bool = False,
    flag: int | None = None,
) -> RowPage:
    """Rows by money at stake (rank), their value delta opened when ``codec`` is given (the
    caller passes it only to readers with ``margin:read``)."""
    t = ErpReconciliationRow
    where = [t.reconciliation_id == reconciliation_id]
    if changed_only:
        where.append(t.changed.is_(True))
    if flag:
        where.append(t.flags.op("&")(flag) != 0)
    total = int(await session.scalar(select(func.count()).select_from(t).where(*where)) or 0)
    found = list(
        await session.scalars(
            select(t).where(*where).order_by(t.stake_rank).offset(offset).limit(limit)
        )
    )
    rows = [{c: getattr(r, c) for c in (*STORED, "stake_rank")} for r in found]
    if codec is not None and found:
        values = codec.decrypt_floats(
            [r.value_delta_enc for r in found],
            table=ROWS_TABLE,
            column="value_delta",
            row_keys=[f"{r.reconciliation_id}/{r.sku}/{r.location_code}" for r in found],
        )
        for row, value in zip(rows, values, strict=True):
            row["value_delta"] = None if np.isnan(value) else float(value)
    else:
        for row in rows:
            row["value_delta"] = None
    return RowPage(rows, total, masked=codec is None)


async def submit(
    session: AsyncSession, reconciliation_id: int, actor: ActingParty, note: str | None = None
) -> None:
    """Send the change set to the approval queue."""
    found = await find(session, reconciliation_id)
    if found.status != "open":
        raise ReconciliationRefused(_is(found))
    if not found.counts.get("changes"):
        raise ReconciliationRefused("nothing to change: every comparable value is in tolerance")
    found.status, found.submitted_at, found.submitted_by = "pending_approval", utcnow(), actor.name
    await record_by(
        session, actor, "inventory.reconciliation.submit", "erp_reconciliation", str(found.id),
        after={"status": found.status, "changes": found.counts.get("changes")},
        reason=(note or "").strip()[:2000] or None,
    )  # fmt: skip


async def decide(
    session: AsyncSession,
    reconciliation_id: int,
    decision: str,
    actor: ActingParty,
    reason: str,
) -> ErpReconciliation:
    """Approve or reject a submitted change set (the approval queue calls this)."""
    if decision not in ("approve", "reject"):
        raise ReconciliationRefused("decision: approve or reject")
    if not reason.strip():
        raise ReconciliationRefused("reason: say why (it goes into the audit log)")
    found = await find(session, reconciliation_id)
    if found.status != "pending_approval":
        raise ReconciliationRefused(_is(found))
    if found.submitted_by == actor.name:
        raise ReconciliationRefused("four eyes: who submitted a change set cannot decide it")
    before = found.status
    found.status = "approved" if decision == "approve" else "rejected"
    found.decided_at, found.decided_by, found.decision_reason = utcnow(), actor.name, reason
    await record_by(
        session, actor, f"inventory.reconciliation.{decision}", "erp_reconciliation",
        str(found.id), before={"status": before}, after={"status": found.status}, reason=reason,
    )  # fmt: skip
    return found


async def pending(session: AsyncSession, limit: int = 200) -> list[ErpReconciliation]:
    return list(
        await session.scalars(
            select(ErpReconciliation)
            .where(ErpReconciliation.status == "pending_approval")
            .order_by(ErpReconciliation.submitted_at)
            .limit(limit)
        )
    )


async def writeback(
    session: AsyncSession, reconciliation_id: int, profile: Profile, actor: ActingParty
) -> bytes:
    """The approved change set as the ERP's upload file (audited: who took it, when)."""
    found = await find(session, reconciliation_id)
    if found.status != "approved":
        raise WritebackRefused(
            f"reconciliation {found.id} is {found.status.replace('_', ' ')}: only an approved "
            "change set is written back"
        )
    t = ErpReconciliationRow
    changed = list(
        await session.execute(
            select(
                t.sku, t.location_code, t.proposed_mrp_type, t.proposed_reorder_point,
                t.proposed_safety_stock, t.erp_uom, t.factor,
            )
            .where(t.reconciliation_id == found.id, t.changed.is_(True))
            .order_by(t.location_code, t.sku)
        )
    )  # fmt: skip
    frame = pl.DataFrame(
        [tuple(r) for r in changed],
        schema={
            "sku": pl.String,
            "location_code": pl.String,
            "proposed_mrp_type": pl.String,
            "proposed_reorder_point": pl.Float64,
            "proposed_safety_stock": pl.Float64,
            "erp_uom": pl.String,
            "factor": pl.Float64,
        },
        orient="row",
    )
    current = await erp_parameters(await session.connection())
    body = writeback_file(writeback_rows(frame, current), profile)
    await record_by(
        session, actor, "inventory.reconciliation.writeback", "erp_reconciliation",
        str(found.id), after={"rows": frame.height, "profile": profile.name},
    )  # fmt: skip
    return body


def decided_at_text(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


async def recommended_in_force(session: AsyncSession) -> tuple[uuid.UUID | None, pl.DataFrame]:
    """The results of the policy run in force, lead times turned from periods into days."""
    from tierline.inventory.service import latest_policy_results

    run_id, results = await latest_policy_results(session)
    period_days = await run_period_days(session, run_id) if run_id is not None else 1
    return run_id, results.with_columns(pl.col("lead_time_mean") * period_days)


async def run_period_days(session: AsyncSession, run_id: uuid.UUID) -> int:
    """The demand period (days) of a policy run's document: its statistics are per period."""
    from tierline.inventory.models import InventoryPolicyRun, InventoryPolicyVersion

    run = await session.get(InventoryPolicyRun, run_id)
    if run is None:
        return 1
    version = await session.get(InventoryPolicyVersion, (run.policy_code, run.version))
    return int(version.document.get("period_days", 1)) if version is not None else 1


class NothingToReconcile(DomainError):
    status_code = 409
    title = "Nothing to reconcile"


async def reconcile_in_force(
    session: AsyncSession,
    codec: FieldCodec,
    actor: ActingParty,
    as_of: date,
    job_id: str | None = None,
) -> ErpReconciliation:
    """Reconcile the run in force against the ERP's parameters and keep the result; a
    retried job (``job_id``) gets the reconciliation its first attempt kept."""
    if job_id is not None:
        kept = (
            await session.scalars(
                select(ErpReconciliation).where(ErpReconciliation.job_id == job_id)
            )
        ).first()
        if kept is not None:
            return kept
    run_id, recommended = await recommended_in_force(session)
    if run_id is None or recommended.is_empty():
        raise NothingToReconcile("no policy run is in force: run a published policy first")
    reconciled = await compare_with_erp(await session.connection(), recommended, codec, as_of)
    return await store_reconciliation(session, reconciled, codec, actor, as_of, run_id, job_id)


RECONCILIATION_JOB = "inventory.reconciliation"


async def submit_reconciliation(
    runtime: Runtime, tenant: TenantRef, actor: ActingParty, as_of: date
) -> dict[str, Any]:
    """Queue a reconciliation as a job; refused now when no run is in force."""
    from tierline.inventory.service import latest_policy_results

    async with tenant_session(tenant, runtime.databases) as session:
        run_id, _results = await latest_policy_results(session)
    if run_id is None:
        raise NothingToReconcile("no policy run is in force: run a published policy first")
    params = {
        "as_of": as_of.isoformat(),
        "actor": actor.name,
        "actor_kind": actor.kind,
        "request_id": actor.request_id,
    }
    key = f"reconciliation:{uuid.uuid4().hex}"
    return await submit_tenant_job(runtime, tenant, RECONCILIATION_JOB, params, key, actor.name)
