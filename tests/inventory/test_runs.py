"""Policy runs against a real tenant: results, flags, verification, approval."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import text

from tests.support.inventory_builders import (
    BRONZE_CSL,
    GOLD_FILL,
    POLICY,
    build_inventory_history,
)
from tierline.inventory import service as inventory
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

ACTOR = Actor("planner@example.com", "user")


async def publish_policy(tenant: TenantRef, document: dict[str, object] = POLICY) -> None:
    async with tenant_session(tenant) as s:
        await inventory.create_policy(s, "main", "Main policy", document, ACTOR)
        await inventory.publish(s, "main", ACTOR, "first")


async def test_a_run_explains_every_sku_location_and_verifies(
    runtime: Runtime, tenant: TenantRef
) -> None:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    outcome = await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    assert outcome.status == "succeeded"
    assert outcome.counts["sku_locations"] == 4 and outcome.counts["refused"] == 2
    async with tenant_session(tenant) as s:
        run_id, results = await inventory.latest_policy_results(s)
    assert run_id == outcome.run_id
    rows = {r["sku"]: r for r in results.iter_rows(named=True)}
    s1 = rows["S1"]
    assert s1["segment_code"] == "GOLD"  # 70 % of S1's demand
    assert s1["service_measure"] == "fill_rate"
    assert s1["service_target"] == pytest.approx(0.7 * GOLD_FILL + 0.3 * 0.90, abs=0.01)
    assert s1["lead_time_source"] == "observed" and s1["lead_time_observations"] == 8
    assert s1["demand_mean"] == pytest.approx(sum(history.s1_daily) / 120)
    assert s1["expected_fill_rate"] == pytest.approx(s1["service_target"], abs=1e-6)
    assert s1["reorder_point"] == pytest.approx(
        s1["demand_mean"] * s1["lead_time_mean"] + s1["safety_stock"]
    )
    assert s1["demand_share"] + s1["lead_time_share"] == pytest.approx(1.0)
    assert s1["flag_names"] == []
    assert rows["S2"]["flag_names"] == ["lead_time_missing"]
    assert rows["S2"]["safety_stock"] is None
    assert "unit_without_conversion" in rows["S3"]["flag_names"]
    assert rows["S3"]["safety_stock"] is None
    # S4 (no demand) and S3 (no observations of its own) take DC1's most observed lane
    assert rows["S4"]["flag_names"] == ["no_demand", "lead_time_location_lane"]
    assert rows["S4"]["safety_stock"] == 0
    assert "lead_time_location_lane" in rows["S3"]["flag_names"]
    async with tenant_session(tenant) as s:
        check = await inventory.verify_run(s, outcome.run_id)
    assert check.same and check.policy_hash_matches and check.differing_rows == 0


async def test_big_changes_wait_for_approval(runtime: Runtime, tenant: TenantRef) -> None:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    first = await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    async with tenant_session(tenant) as s:  # demand doubles
        await s.execute(text("UPDATE order_lines SET quantity = quantity * 3 WHERE sku = 'S1'"))
    second = await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    assert second.status == "pending_approval"
    assert second.counts["changed_beyond_threshold"] == 1
    async with tenant_session(tenant) as s:
        run_id, _ = await inventory.latest_policy_results(s)
        assert run_id == first.run_id  # the first run stays in force
        with pytest.raises(inventory.PolicyRefused):
            await inventory.decide_run(s, second.run_id, True, ACTOR, " ")
        await inventory.decide_run(s, second.run_id, True, ACTOR, "demand tripled, checked")
    async with tenant_session(tenant) as s:
        run_id, results = await inventory.latest_policy_results(s)
    assert run_id == second.run_id
    assert results.filter(pl.col("sku") == "S1")["demand_mean"][0] > 50


async def test_a_retried_job_finds_its_run_and_a_draft_is_validated(
    runtime: Runtime, tenant: TenantRef
) -> None:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    one = await inventory.run_policy(
        runtime, tenant, "main", actor=ACTOR, as_of=history.as_of, job_id="job-1"
    )
    two = await inventory.run_policy(
        runtime, tenant, "main", actor=ACTOR, as_of=history.as_of, job_id="job-1"
    )
    assert one.run_id == two.run_id
    async with tenant_session(tenant) as s:
        count = await s.scalar(text("SELECT count(*) FROM inventory_policy_results"))
        assert count == 4
        bad = {**POLICY, "segments": [{"segment": "GOLD", "target": 1.0}]}
        with pytest.raises(inventory.PolicyInvalid) as refused:
            await inventory.save_draft(s, "main", bad, ACTOR)
        assert "100 %" in refused.value.issues[0].message
        with pytest.raises(inventory.PolicyRefused):
            await inventory.publish(s, "main", ACTOR)  # same content as version 1
    assert BRONZE_CSL < 1
