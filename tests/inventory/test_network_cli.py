"""``tierline inventory reconcile`` and ``simulate`` against a real tenant."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from tests.inventory.simulations.test_simulations import with_erp
from tests.inventory.test_runs import ACTOR, publish_policy
from tests.support.inventory_builders import build_inventory_history
from tierline.inventory import service as inventory
from tierline.inventory.network_cli import inventory_app
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


async def cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, inventory_app, list(args))
    return result.exit_code, result.output


async def test_reconcile_and_simulate_from_the_command_line(
    runtime: Runtime, tenant: TenantRef
) -> None:
    code, out = await cli("reconcile", "--tenant", tenant.slug)
    assert code != 0 and "no policy run is in force" in out
    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    await with_erp(tenant)
    code, out = await cli("reconcile", "--tenant", tenant.slug)
    assert code == 0, out
    assert "reconciliation #" in out and "changes proposed" in out
    code, out = await cli("simulate", "--tenant", tenant.slug, "--days", "112")
    assert code == 0, out
    assert "simulation #" in out
    code, out = await cli("simulate", "--tenant", tenant.slug, "--days", "7")
    assert code != 0
