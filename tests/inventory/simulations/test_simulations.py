"""Simulation before deployment on a real tenant: the run in force against the ERP's
parameters, per segment with intervals and a calibration report; the publish gate."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text

from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.inventory_builders import build_inventory_history
from tierline.inventory import service as inventory
from tierline.inventory.simulation import ReplenishmentPolicy
from tierline.inventory.simulations import service as simulations
from tierline.inventory.simulations.inputs import (
    current_policy,
    demand_matrix,
    lane_keys,
    proposed_policy,
)
from tierline.inventory.simulations.models import InventorySimulation
from tierline.inventory.store import get_policy
from tierline.platform.audit import verify_chain
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def with_erp(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "INSERT INTO sourcing_lanes (location_code, source_code, source_kind, "
                "planned_lead_time_days, calendar) VALUES ('DC1', 'SUP1', 'supplier', 5, "
                "'calendar'), ('DC1', 'SUP2', 'supplier', 6, 'working')"
            )
        )
        # The ERP holds too little for S1 (reorder point 90 against ~20 a day over 5 days)
        await s.execute(
            text(
                "INSERT INTO erp_parameters (sku, location_code, mrp_type, reorder_point, "
                "safety_stock, planned_delivery_days, goods_receipt_days, days_basis, min_lot, "
                "lot_rounding, max_stock, uom) VALUES "
                "('S1', 'DC1', 'VB', 90, 5, 5, 0, 'calendar', 100, 0, 0, 'EA'), "
                "('S4', 'DC1', 'PD', 0, 5, 5, 0, 'calendar', 0, 0, 0, 'EA')"
            )
        )


async def test_the_run_in_force_against_the_erp_per_segment(
    runtime: Runtime, tenant: TenantRef
) -> None:
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    await with_erp(tenant)
    async with tenant_session(tenant) as s:
        done = await simulations.simulate_in_force(s, ACTOR, history.as_of, days=112, job_id="j1")
        sid = done.id
    async with tenant_session(tenant) as s:  # a retried job finds what its first attempt kept
        again = await simulations.simulate_in_force(s, ACTOR, history.as_of, days=112, job_id="j1")
        assert again.id == sid
    async with tenant_session(tenant) as s:
        row = await simulations.find(s, sid)
        audit = await verify_chain(s)
    assert row.sku_locations >= 1 and row.policy_code == "main" and audit.ok
    compared = {c["segment"]: c for c in row.comparison}
    gold = compared["GOLD"]
    # the proposed policy buys the gold fill rate the ERP's reorder point does not
    assert gold["fill_rate_proposed"] > gold["fill_rate_current"]
    assert gold["fill_rate_change_low"] <= gold["fill_rate_change"] <= gold["fill_rate_change_high"]
    assert any(c["demand_class"] == "*" for c in row.calibration)


async def test_without_a_run_or_erp_parameters_a_simulation_is_refused(
    runtime: Runtime, tenant: TenantRef
) -> None:
    async with tenant_session(tenant) as s:
        with pytest.raises(simulations.SimulationRefused, match="no policy run"):
            await simulations.simulate_in_force(s, ACTOR, date(2026, 12, 1))
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    async with tenant_session(tenant) as s:
        with pytest.raises(simulations.SimulationRefused, match="ERP parameters"):
            await simulations.simulate_in_force(s, ACTOR, history.as_of)


async def test_publishing_under_a_shortfall_needs_an_audited_acknowledgement(
    tenant: TenantRef,
) -> None:
    await publish_policy(tenant)
    shortfall = {"segment": "GOLD", "measure": "fill_rate", "target": 0.98, "simulated": 0.94}
    async with tenant_session(tenant) as s:
        s.add(
            InventorySimulation(
                policy_code="main", as_of=date(2026, 12, 1), days=364, seed=7,
                sku_locations=10, candidates=10, shortfalls=[shortfall],
                created_by=ACTOR.name,
            )
        )  # fmt: skip
        draft = dict((await get_policy(s, "main")).draft or {})
        draft["change_threshold"] = 0.2
        await inventory.save_draft(s, "main", draft, ACTOR)
    async with tenant_session(tenant) as s:
        with pytest.raises(
            simulations.SimulationRefused, match=r"GOLD: fill rate 94.0% against 98.0%"
        ):
            await inventory.publish(s, "main", ACTOR, "second")
    async with tenant_session(tenant) as s:
        with pytest.raises(simulations.SimulationRefused, match="needs a reason"):
            await inventory.publish(s, "main", ACTOR, "second", acknowledge_shortfall=True)
    async with tenant_session(tenant) as s:
        version = await inventory.publish(
            s, "main", ACTOR, "second", acknowledge_shortfall=True, shortfall_reason="promo ends"
        )
        assert version.version == 2
        acknowledged = await s.scalar(
            text(
                "SELECT reason FROM audit_log WHERE action = "
                "'inventory.policy_shortfall_acknowledged' AND object_id = 'main'"
            )
        )
    assert acknowledged == "promo ends"


def test_policies_and_lanes_are_built_per_row() -> None:
    erp = pl.DataFrame(
        {
            "mrp_type": ["VB", "PD", "VB"],
            "reorder_point": [50.0, 0.0, 30.0],
            "safety_stock": [10.0, 7.0, 5.0],
            "min_lot": [20.0, 0.0, 0.0],
            "lot_rounding": [0.0, 0.0, 6.0],
            "max_stock": [0.0, 0.0, 80.0],
        }
    )
    current = current_policy(erp)
    # PD has no reorder point: its safety stock protects; MABST turns on replenish-to-max
    assert current.reorder_point.tolist() == [50.0, 7.0, 30.0]
    assert np.isnan(current.order_up_to[0]) or current.order_up_to[0] <= 50.0
    results = pl.DataFrame(
        {
            "policy_type": ["s_q", "r_s", "min_max"],
            "reorder_point": [40.0, 100.0, 20.0],
            "order_up_to": [None, 140.0, 60.0],
            "order_quantity": [25.0, None, None],
            "demand_mean": [10.0, 10.0, 2.0],
            "review_period": [0.0, 1.0, 1.0],
        }
    )
    proposed = proposed_policy(results, period_days=7)
    expected = [
        ReplenishmentPolicy.continuous_sq([40.0], [25.0]),
        ReplenishmentPolicy.periodic_rs([7], [140.0]),
        ReplenishmentPolicy.min_max([20.0], [60.0], [7]),
    ]
    for row, policy in enumerate(expected):
        mine = proposed.take([row])
        for name in ReplenishmentPolicy.__dataclass_fields__:
            assert np.array_equal(getattr(mine, name), getattr(policy, name), equal_nan=True), name
    rows = pl.DataFrame({"sku": ["A", "A", "B"], "location_code": ["DC1", "W1", "W1"]})
    lanes = pl.DataFrame(
        {
            "location_code": ["DC1", "W1"],
            "source_code": ["SUP1", "DC1"],
            "source_kind": ["supplier", "location"],
            "planned_lead_time_days": [10.0, 2.0],
            "calendar": ["calendar", "working"],
        }
    )
    observations = pl.DataFrame(
        {
            "sku": ["A"] * 6,
            "location_code": ["DC1"] * 5 + ["W1"],
            "supplier_code": ["SUP1"] * 5 + [None],
            "lead_time_days": [9.0, 10, 11, 10, 12, 3],
        },
        schema_overrides={"supplier_code": pl.String},
    )
    chosen, lead_times = lane_keys(rows, lanes, observations)
    assert chosen.to_list() == ["DC1<-SUP1", "W1<-DC1", "W1<-DC1"]
    # W1<-DC1 has one observation (< 5): the planned 2 working days, 2.8 calendar days
    assert "W1<-DC1" in lead_times.fallbacks
    daily = pl.DataFrame(
        {
            "sku": ["A", "A", "B"],
            "location_code": ["DC1", "DC1", "W1"],
            "day": [date(2026, 1, 1), date(2026, 1, 3), date(2026, 1, 2)],
            "quantity": [4.0, 6.0, 1.0],
        }
    )
    matrix = demand_matrix(rows, daily, date(2026, 1, 1), 3)
    assert matrix.tolist() == [[4.0, 0.0, 6.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
