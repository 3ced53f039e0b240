"""Running a simulation before deployment against the tenant's data, keeping it, and the
publish gate: the segments whose simulated attainment falls below their entitlement."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.simulation import (
    BootstrapSettings,
    SimulationSettings,
    calibration_report,
    compare_policies,
    simulate,
)
from tierline.inventory.simulations.inputs import ReplayInputs, replay_inputs
from tierline.inventory.simulations.models import InventorySimulation
from tierline.inventory.store import PolicyRefused
from tierline.masterdata.service import (
    daily_demand,
    erp_parameters,
    lead_time_observations,
    sourcing_lanes,
)
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.jobs.service import submit_tenant_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

HISTORY_DAYS = 364
WARMUP_DAYS = 56
# rows x days floats held at once: 100k SKU-locations over a year (about 300 MB)
MAX_CELLS = 36_500_000


class SimulationRefused(DomainError):
    status_code = 409
    title = "Simulation refused"


class ShortfallNotAcknowledged(SimulationRefused, PolicyRefused):
    """Publishing refused until the simulated shortfall is acknowledged (the policy pages and
    API show it like any other refusal to publish)."""


class SimulationNotFound(DomainError):
    status_code = 404
    title = "Not found"


@dataclass(frozen=True)
class Replayed:
    inputs: ReplayInputs
    comparison: pl.DataFrame
    calibration: pl.DataFrame
    flags: dict[str, int]


def replay(inputs: ReplayInputs, seed: int, warmup_days: int) -> Replayed:
    """Both policies over the same days and lead-time draws (CPU work: call in a thread)."""
    settings = SimulationSettings(seed=seed, warmup_days=warmup_days)
    segment = inputs.keys["segment_code"].fill_null("none").to_list()
    demand_class = inputs.keys["demand_class"].fill_null("unknown").to_list()
    current, proposed = (
        simulate(
            inputs.demand,
            policy,
            inputs.lead_times,
            inputs.lane,
            segment=segment,
            demand_class=demand_class,
            settings=settings,
        )
        for policy in (inputs.current, inputs.proposed)
    )
    boot = BootstrapSettings(seed=seed)
    flags = (
        pl.concat([current.flags, proposed.flags])
        .unique(["row", "code"])
        .group_by("code")
        .len()
        .sort("code")
    )
    return Replayed(
        inputs,
        compare_policies(current, proposed, boot),
        calibration_report(proposed, inputs.targets, boot),
        {code: int(n) for code, n in flags.iter_rows()},
    )


def _plain(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: NaN and infinities as null, lists kept."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return [{k: clean(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def shortfalls_of(calibration: pl.DataFrame) -> list[dict[str, Any]]:
    """Segments (all demand classes together) whose simulated attainment misses the target."""
    if calibration.is_empty() or "below_target" not in calibration.columns:
        return []
    whole = calibration.filter((pl.col("demand_class") == "*") & pl.col("below_target"))
    keep = [c for c in ("segment", "measure", "target", "simulated", "simulated_low",
                        "simulated_high") if c in whole.columns]  # fmt: skip
    return _plain(whole.select(keep))


async def simulate_in_force(
    session: AsyncSession,
    actor: ActingParty,
    as_of: date,
    *,
    seed: int = 7,
    days: int = HISTORY_DAYS,
    job_id: str | None = None,
) -> InventorySimulation:
    """Replay the last ``days`` of demand under the ERP's parameters and under the run in
    force, and keep the outcome (audited). ``job_id``: a retried job gets the simulation its
    first attempt kept."""
    from tierline.inventory.models import InventoryPolicyRun
    from tierline.inventory.reconciliation.service import run_period_days
    from tierline.inventory.service import latest_policy_results

    if job_id is not None:
        done_before = (
            await session.scalars(
                select(InventorySimulation).where(InventorySimulation.job_id == job_id)
            )
        ).first()
        if done_before is not None:
            return done_before
    run_id, results = await latest_policy_results(session)
    if run_id is None or results.is_empty():
        raise SimulationRefused("no policy run is in force: run a published policy first")
    conn = await session.connection()
    start = as_of - timedelta(days=days)
    erp = await erp_parameters(conn)
    if erp.is_empty():
        raise SimulationRefused("no ERP parameters to compare with: import erp_parameters")
    inputs = replay_inputs(
        results,
        erp,
        await sourcing_lanes(conn),
        await lead_time_observations(conn, as_of - timedelta(days=3 * 365)),
        await daily_demand(conn, start, as_of - timedelta(days=1)),
        start=start,
        days=days,
        period_days=await run_period_days(session, run_id),
        max_rows=MAX_CELLS // days,
    )
    if not inputs.keys.height:
        raise SimulationRefused("no SKU-location has both a recommendation and ERP parameters")
    done = await asyncio.to_thread(replay, inputs, seed, min(WARMUP_DAYS, days // 4))
    run = await session.get(InventoryPolicyRun, run_id)
    row = InventorySimulation(
        policy_run_id=run_id,
        policy_code=run.policy_code if run is not None else None,
        as_of=as_of,
        days=days,
        seed=seed,
        sku_locations=inputs.keys.height,
        candidates=inputs.candidates,
        sampled=inputs.keys.height < inputs.candidates,
        comparison=_plain(done.comparison),
        calibration=_plain(done.calibration),
        shortfalls=shortfalls_of(done.calibration),
        flags=done.flags,
        created_by=actor.name,
        job_id=job_id,
    )
    session.add(row)
    await session.flush()
    await record_by(
        session, actor, "inventory.simulation.run", "inventory_simulation", str(row.id),
        after={"sku_locations": row.sku_locations, "shortfalls": row.shortfalls,
               "policy_run_id": str(run_id)},
    )  # fmt: skip
    return row


async def find(session: AsyncSession, simulation_id: int) -> InventorySimulation:
    found = await session.get(InventorySimulation, simulation_id)
    if found is None:
        raise SimulationNotFound(f"no simulation {simulation_id}")
    return found


async def history(
    session: AsyncSession, limit: int = 20, before: int | None = None
) -> list[InventorySimulation]:
    """The newest first; ``before`` an id: only older ones (keyset paging)."""
    query = select(InventorySimulation).order_by(InventorySimulation.id.desc()).limit(limit)
    if before is not None:
        query = query.where(InventorySimulation.id < before)
    return list(await session.scalars(query))


async def latest_for_policy(session: AsyncSession, code: str) -> InventorySimulation | None:
    return (
        await session.scalars(
            select(InventorySimulation)
            .where(InventorySimulation.policy_code == code)
            .order_by(InventorySimulation.id.desc())
            .limit(1)
        )
    ).first()


def shortfall_text(shortfalls: list[dict[str, Any]]) -> str:
    def pct(v: Any) -> str:
        return "?" if v is None else f"{float(v):.1%}"

    return "; ".join(
        f"{s.get('segment')}: {s.get('measure', '').replace('_', ' ')} {pct(s.get('simulated'))} "
        f"against {pct(s.get('target'))}"
        for s in shortfalls
    )


async def publish_gate(
    session: AsyncSession,
    code: str,
    actor: ActingParty,
    acknowledged: bool,
    reason: str | None = None,
) -> None:
    """Called by ``store.publish``: when the latest simulation of policy ``code`` found
    segments below their entitlement, publishing needs ``acknowledged`` with a reason; the
    acknowledgement is audited with the shortfalls it accepted and the reason given."""
    latest = await latest_for_policy(session, code)
    if latest is None or not latest.shortfalls:
        return
    text = shortfall_text(latest.shortfalls)
    if not acknowledged:
        raise ShortfallNotAcknowledged(
            f"simulation #{latest.id} found segments below their entitlement ({text}): "
            "acknowledge the shortfall to publish"
        )
    if not (reason or "").strip():
        raise ShortfallNotAcknowledged(
            f"simulation #{latest.id} found segments below their entitlement ({text}): "
            "an acknowledgement needs a reason"
        )
    await record_by(
        session, actor, "inventory.policy_shortfall_acknowledged", "inventory_policy", code,
        after={"simulation": latest.id, "shortfalls": latest.shortfalls},
        reason=(reason or "").strip(),
    )  # fmt: skip


async def pending_shortfall(session: AsyncSession, code: str) -> tuple[int, str] | None:
    """The latest simulation of policy ``code`` and its shortfalls as text, when publishing
    would need an acknowledgement (for the policy page); ``None`` otherwise."""
    latest = await latest_for_policy(session, code)
    if latest is None or not latest.shortfalls:
        return None
    return latest.id, shortfall_text(latest.shortfalls)


SIMULATION_JOB = "inventory.simulation"


async def submit_simulation(
    runtime: Runtime, tenant: TenantRef, actor: ActingParty, *, days: int, seed: int
) -> dict[str, Any]:
    """Queue a simulation as a job (a fresh job id each time); refused now, not in the
    worker, when there is nothing to simulate."""
    from tierline.inventory.service import latest_policy_results

    async with tenant_session(tenant, runtime.databases) as session:
        run_id, _results = await latest_policy_results(session)
        if run_id is None:
            raise SimulationRefused("no policy run is in force: run a published policy first")
    params = {
        "days": days,
        "seed": seed,
        "actor": actor.name,
        "actor_kind": actor.kind,
        "request_id": actor.request_id,
    }
    key = f"simulation:{uuid.uuid4().hex}"
    return await submit_tenant_job(runtime, tenant, SIMULATION_JOB, params, key, actor.name)
