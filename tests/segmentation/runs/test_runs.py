"""Classification runs end to end on real PostgreSQL: write, history, stability, refusals."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select, text

from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import (
    PendingMove,
    RunResult,
    SegmentAssignment,
    SegmentationRun,
)
from tierline.segmentation.runs.service import RunRefused, run_scheme
from tierline.segmentation.runs.stability import decide
from tierline.segmentation.runs.verify import verify_run
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish, save_draft

ACTOR = Actor("planner@example.com")
TODAY = datetime.now(UTC).date()


async def _publish(runtime: Runtime, tenant: TenantRef, source: str) -> str:
    async with tenant_session(tenant, runtime.databases) as s:
        parsed = await create_scheme(s, source, ACTOR)
        await publish(s, parsed.scheme.code, ACTOR)
    return parsed.scheme.code


async def _republish(runtime: Runtime, tenant: TenantRef, code: str, source: str) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        await save_draft(s, code, source, ACTOR)
        await publish(s, code, ACTOR)


async def _open(runtime: Runtime, tenant: TenantRef, code: str) -> dict[str, str]:
    async with tenant_session(tenant, runtime.databases) as s:
        rows = await s.execute(
            select(SegmentAssignment.entity_key, SegmentAssignment.segment).where(
                SegmentAssignment.scheme_code == code, SegmentAssignment.valid_to.is_(None)
            )
        )
        return {k: v for k, v in rows.all()}


@pytest.fixture
def seeded(seeded_tenant: TenantRef) -> TenantRef:
    return seeded_tenant


async def test_first_run_assigns_every_entity_once_and_records_everything(
    runtime: Runtime, seeded: TenantRef
) -> None:
    code = await _publish(
        runtime, seeded, load_template("lightweight").replace("lightweight_abc", "light_first")
    )
    outcome = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert outcome.status == "succeeded"
    entities = outcome.counts["entities"]
    assert entities > 0 and outcome.counts["outcomes"] == {"new": entities}
    assert sum(outcome.counts["segments"].values()) == entities
    current = await _open(runtime, seeded, code)
    assert len(current) == entities
    async with tenant_session(seeded, runtime.databases) as s:
        run = await s.get(SegmentationRun, outcome.run_id)
        assert run is not None and run.content_hash.startswith("sha256:")
        assert run.inputs["order_lines"] > 0 and run.inputs["decrypted"] == ["revenue"]
        results = (
            await s.execute(select(func.count()).where(RunResult.run_id == outcome.run_id))
        ).scalar_one()
        assert results == entities
        audit = (
            await s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'segments.run'"))
        ).scalar_one()
        assert audit >= 1
    # Revenue-driven ABC: the A class holds the largest customers.
    check = await verify_run(runtime, seeded, outcome.run_id)
    assert check.matches and check.digest_ok and check.differing == 0


async def test_rerun_on_same_inputs_changes_nothing(runtime: Runtime, seeded: TenantRef) -> None:
    code = await _publish(
        runtime, seeded, load_template("customer_service").replace("cust_service", "cust_rerun")
    )
    first = await run_scheme(runtime, seeded, code, actor=ACTOR)
    before = await _open(runtime, seeded, code)
    second = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert second.counts["outcomes"] == {"unchanged": first.counts["entities"]}
    assert await _open(runtime, seeded, code) == before
    assert second.counts["segments"] == first.counts["segments"]


async def test_hysteresis_holds_a_move_until_confirmed_then_applies(
    runtime: Runtime, seeded: TenantRef
) -> None:
    base = load_template("lightweight").replace("lightweight_abc", "light_hyst")
    code = await _publish(runtime, seeded, base)
    await run_scheme(runtime, seeded, code, actor=ACTOR)
    before = await _open(runtime, seeded, code)
    # Tighter A threshold: some A customers become B, but only after two runs in a row.
    tighter = base.replace("A: 0.80", "A: 0.50") + ("\nstability: {consecutive_runs: 2}\n")
    assert tighter != base
    await _republish(runtime, seeded, code, tighter)
    held = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert held.counts["outcomes"].get("held", 0) > 0
    assert "applied" not in held.counts["outcomes"]
    assert await _open(runtime, seeded, code) == before
    applied = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert applied.counts["outcomes"]["applied"] == held.counts["outcomes"]["held"]
    after = await _open(runtime, seeded, code)
    moved = {k for k in after if after[k] != before[k]}
    assert len(moved) == held.counts["outcomes"]["held"]
    async with tenant_session(seeded, runtime.databases) as s:
        history = (
            (
                await s.execute(
                    select(SegmentAssignment)
                    .where(SegmentAssignment.scheme_code == code)
                    .where(SegmentAssignment.entity_key == sorted(moved)[0])
                    .order_by(SegmentAssignment.valid_from, SegmentAssignment.id)
                )
            )
            .scalars()
            .all()
        )
    assert [h.valid_to is None for h in history] == [False, True]
    assert history[0].segment != history[1].segment


async def test_large_share_moving_waits_for_approval(runtime: Runtime, seeded: TenantRef) -> None:
    base = load_template("lightweight").replace("lightweight_abc", "light_share")
    code = await _publish(runtime, seeded, base)
    await run_scheme(runtime, seeded, code, actor=ACTOR)
    before = await _open(runtime, seeded, code)
    moved = base.replace("A: 0.80", "A: 0.30").replace("B: 0.95", "B: 0.50") + (
        "\nreclassification: {max_share_moving: 0.01}\n"
    )
    await _republish(runtime, seeded, code, moved)
    outcome = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert outcome.counts["outcomes"]["pending"] > 0
    assert await _open(runtime, seeded, code) == before  # nothing applied
    async with tenant_session(seeded, runtime.databases) as s:
        reasons = (
            (
                await s.execute(
                    select(PendingMove.reasons).where(
                        PendingMove.run_id == outcome.run_id, PendingMove.status == "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert reasons and all("share_moving" in r for r in reasons)


async def test_run_with_no_history_in_window_is_refused_and_writes_nothing(
    runtime: Runtime, seeded: TenantRef
) -> None:
    code = await _publish(
        runtime, seeded, load_template("lightweight").replace("lightweight_abc", "light_empty")
    )
    long_ago = TODAY - timedelta(days=365 * 6)
    # Refused before as-of history checks: no earlier run exists for this scheme.
    outcome = await run_scheme(runtime, seeded, code, actor=ACTOR, as_of=long_ago)
    assert outcome.status == "refused" and "no order lines" in (outcome.message or "")
    assert await _open(runtime, seeded, code) == {}
    async with tenant_session(seeded, runtime.databases) as s:
        results = (
            await s.execute(select(func.count()).where(RunResult.run_id == outcome.run_id))
        ).scalar_one()
    assert results == 0


async def test_run_cannot_rewrite_history(runtime: Runtime, seeded: TenantRef) -> None:
    code = await _publish(
        runtime, seeded, load_template("lightweight").replace("lightweight_abc", "light_back")
    )
    await run_scheme(runtime, seeded, code, actor=ACTOR)
    with pytest.raises(RunRefused, match="appended"):
        await run_scheme(runtime, seeded, code, actor=ACTOR, as_of=TODAY - timedelta(days=30))


async def test_same_job_id_runs_once(runtime: Runtime, seeded: TenantRef) -> None:
    code = await _publish(
        runtime, seeded, load_template("lightweight").replace("lightweight_abc", "light_job")
    )
    job = f"job-{uuid.uuid4().hex}"
    first = await run_scheme(runtime, seeded, code, actor=ACTOR, job_id=job)
    again = await run_scheme(runtime, seeded, code, actor=ACTOR, job_id=job)
    assert again.run_id == first.run_id
    async with tenant_session(seeded, runtime.databases) as s:
        runs = (
            await s.execute(select(func.count()).where(SegmentationRun.scheme_code == code))
        ).scalar_one()
    assert runs == 1


async def test_crash_while_writing_leaves_nothing(
    runtime: Runtime, seeded: TenantRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tierline.segmentation.runs.service as runs_module

    code = await _publish(
        runtime, seeded, load_template("lightweight").replace("lightweight_abc", "light_crash")
    )

    async def boom(*_args: object) -> None:
        raise RuntimeError("worker killed mid-write")

    monkeypatch.setattr(runs_module, "_write_moves_and_candidates", boom)
    with pytest.raises(RuntimeError, match="mid-write"):
        await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert await _open(runtime, seeded, code) == {}
    async with tenant_session(seeded, runtime.databases) as s:
        runs = (
            await s.execute(select(func.count()).where(SegmentationRun.scheme_code == code))
        ).scalar_one()
    assert runs == 0
    monkeypatch.undo()
    retried = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert retried.status == "succeeded"


def test_decide_spike_and_tier_jump_wait_exceptions_apply_at_once() -> None:
    from tierline.segmentation.schemes.document import parse_scheme

    scheme = parse_scheme(load_template("customer_service")).scheme
    ranks = sorted(scheme.segments, key=lambda s: s.rank)
    top, second, bottom = ranks[0].code, ranks[1].code, ranks[-1].code
    results = pl.DataFrame(
        {
            "entity_key": ["spiky", "jumper", "steady", "promo", "fresh"],
            "segment": [second, top, second, bottom, top],
            "source": ["rule", "rule", "rule", "exception", "rule"],
            "boundary_distance": [0.5, 0.5, 0.5, 0.0, 0.0],
            "max_period_share": [0.9, 0.1, 0.1, 0.1, 0.1],
        }
    )
    current = pl.DataFrame(
        {
            "entity_key": ["spiky", "jumper", "steady", "promo"],
            "current_segment": [top, bottom, top, top],
            "current_source": ["rule"] * 4,
        }
    )
    candidates = pl.DataFrame(
        {"entity_key": ["steady"], "candidate_segment": [second], "streak": [1]}
    )
    decision = decide(scheme, results, current, candidates, frozen=False)
    by_key = {r["entity_key"]: r for r in decision.outcomes.iter_rows(named=True)}
    assert by_key["fresh"]["outcome"] == "new"
    assert by_key["spiky"]["outcome"] == "pending" and "spike" in by_key["spiky"]["reasons"]
    assert by_key["jumper"]["outcome"] == "pending"
    assert "tier_jump" in by_key["jumper"]["reasons"]
    assert by_key["promo"]["outcome"] in ("applied", "pending")
    frozen = decide(scheme, results, current, candidates, frozen=True)
    assert set(frozen.outcomes.filter(pl.col("outcome") == "frozen")["entity_key"]) >= {"spiky"}
    assert frozen.count("applied") == 0


async def test_a_move_below_the_contract_waits_for_approval(
    runtime: Runtime, seeded: TenantRef
) -> None:
    from tierline.service_levels.contracts import ContractInput, save_contract
    from tierline.service_levels.entitlements import EntitlementInput, save_entitlement_version

    base = load_template("lightweight").replace("lightweight_abc", "light_contract")
    code = await _publish(runtime, seeded, base)
    first = await run_scheme(runtime, seeded, code, actor=ACTOR)
    start = TODAY - timedelta(days=400)
    async with tenant_session(seeded, runtime.databases) as s:
        for rank, (segment, fill) in enumerate((("A", 0.98), ("B", 0.95), ("C", 0.90)), 1):
            await save_entitlement_version(
                s,
                code,
                segment,
                EntitlementInput(
                    effective_from=start,
                    fill_rate_target=fill,
                    otif_target=fill,
                    perfect_order_target=fill - 0.05,
                    cycle_service_level=fill,
                    quoted_lead_time_days=rank * 2,
                    allocation_priority=rank,
                    picking_priority=rank,
                ),
                ACTOR,
            )
        # A customers late in the A class: they drop to B when the A threshold tightens.
        movers = (
            (
                await s.execute(
                    select(RunResult.entity_key)
                    .where(
                        RunResult.run_id == first.run_id,
                        RunResult.abc == "A",
                        RunResult.cum_share > 0.6,
                    )
                    .order_by(RunResult.entity_key)
                )
            )
            .scalars()
            .all()
        )
        assert len(movers) >= 2
        contracted = movers[0]
        await save_contract(
            s,
            ContractInput(
                customer_code=contracted,
                reference=f"K-{code}",
                valid_from=start,
                fill_rate_min=0.97,
            ),
            ACTOR,
        )
    await _republish(runtime, seeded, code, base.replace("A: 0.80", "A: 0.30"))
    outcome = await run_scheme(runtime, seeded, code, actor=ACTOR)
    assert outcome.counts["outcomes"]["applied"] > 0
    current = await _open(runtime, seeded, code)
    assert current[contracted] == "A"  # held back: B would break the contract
    assert current[movers[1]] == "B"
    async with tenant_session(seeded, runtime.databases) as s:
        move = (
            await s.execute(
                select(PendingMove).where(
                    PendingMove.run_id == outcome.run_id, PendingMove.entity_key == contracted
                )
            )
        ).scalar_one()
    assert move.to_segment == "B" and "contract" in move.reasons


def test_date_slices_cover_the_window_without_overlap() -> None:
    from tierline.segmentation.runs.loading import date_slices

    for days, parts in ((1, 8), (7, 8), (365, 8), (366, 3), (30, 1)):
        start = TODAY - timedelta(days=days - 1)
        slices = date_slices((start, TODAY), parts)
        assert len(slices) <= parts and slices[0][0] == start and slices[-1][1] == TODAY
        for (_a, b), (c, _d) in itertools.pairwise(slices):
            assert c == b + timedelta(days=1)
