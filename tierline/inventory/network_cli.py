"""``tierline inventory reconcile`` and ``tierline inventory simulate``: the network commands,
added to the ``inventory`` group (the plugin mounts this module's ``inventory_app``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tierline.inventory.cli import console, inventory_app
from tierline.platform.commands import TenantOption, tenant_by_slug

__all__ = ["inventory_app"]


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )


@inventory_app.command("reconcile")
def reconcile_command(tenant: TenantOption) -> None:
    """Reconcile the policy run in force with the ERP's parameters (kept; see the page)."""
    from tierline.inventory.reconciliation.service import reconcile_in_force
    from tierline.platform.commands import run
    from tierline.platform.encryption.store import kms_from_settings, load_codec
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenancy import tenant_session

    async def main() -> dict[str, Any]:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            with _bar() as bar:
                task = bar.add_task("reading the run in force and the ERP's parameters", total=1)
                codec = await load_codec(
                    ref, kms_from_settings(runtime.settings), runtime.databases
                )
                async with tenant_session(ref, runtime.databases) as s:
                    made = await reconcile_in_force(
                        s, codec, Actor("cli", "system"), datetime.now(UTC).date()
                    )
                    counts = dict(made.counts)
                    made_id = made.id
                bar.update(task, completed=1, description="reconciled")
        return {"id": made_id, **counts}

    found = run(main)
    console.print(
        f"reconciliation #{found['id']}: {found.get('rows', 0):,} SKU-locations, "
        f"{found.get('changes', 0):,} changes proposed"
    )


@inventory_app.command("simulate")
def simulate_command(
    tenant: TenantOption,
    days: Annotated[int, typer.Option("--days", min=56, max=730, help="Days replayed.")] = 364,
    seed: Annotated[int, typer.Option("--seed", help="Seed of draws and bootstrap.")] = 7,
) -> None:
    """Replay the demand history under the ERP's parameters and the run in force."""
    from tierline.inventory.simulations.service import shortfall_text, simulate_in_force
    from tierline.platform.commands import run
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenancy import tenant_session

    async def main() -> tuple[int, int, str]:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            with _bar() as bar:
                task = bar.add_task("replaying both policies", total=1)
                async with tenant_session(ref, runtime.databases) as s:
                    done = await simulate_in_force(
                        s, Actor("cli", "system"), datetime.now(UTC).date(), seed=seed, days=days
                    )
                    result = (done.id, done.sku_locations, shortfall_text(done.shortfalls))
                bar.update(task, completed=1, description="simulated")
        return result

    sid, rows, shortfalls = run(main)
    console.print(f"simulation #{sid}: {rows:,} SKU-locations")
    if shortfalls:
        console.print(f"below entitlement: {shortfalls}")
