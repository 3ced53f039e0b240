"""``tierline inventory run`` and ``verify``, and verify catching a tampered result."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from typer.testing import CliRunner

from tests.support.inventory_builders import POLICY, build_inventory_history
from tierline.inventory import service as inventory
from tierline.inventory.cli import inventory_app
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def _cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, inventory_app, list(args))
    return result.exit_code, result.output


async def test_cli_run_and_verify_then_detect_tampering(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await build_inventory_history(tenant)
    actor = Actor("planner@example.com", "user")
    async with tenant_session(tenant) as s:
        await inventory.create_policy(s, "main", "Main", POLICY, actor)
        await inventory.publish(s, "main", actor)
    code, out = await _cli("run", "--tenant", tenant.slug, "--policy", "main")
    assert code == 0 and "succeeded" in out and "4 SKU-locations" in out, out
    async with tenant_session(tenant) as s:
        run_id, _ = await inventory.latest_policy_results(s)
    code, out = await _cli("verify", str(run_id), "--tenant", tenant.slug)
    assert code == 0 and out.startswith("MATCH"), out
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "UPDATE inventory_policy_results SET safety_stock = safety_stock + 5 "
                "WHERE run_id = :r AND sku = 'S1'"
            ),
            {"r": run_id},
        )
    code, out = await _cli("verify", str(run_id), "--tenant", tenant.slug)
    assert code == 1 and out.startswith("DIFFERS: 1 SKU-locations"), out
    code, out = await _cli("verify", "not-a-run", "--tenant", tenant.slug)
    assert code == 1
