"""``tierline inventory``: policy runs, their verification and the calculator."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tierline.platform.commands import TenantOption, tenant_by_slug

inventory_app = typer.Typer(
    help="Inventory policy: safety stock and reorder points per segment.", no_args_is_help=True
)
console = Console()


@inventory_app.command("run")
def run_command(
    tenant: TenantOption,
    policy: Annotated[str, typer.Option("--policy", help="Inventory policy code.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Run as of this day (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Compute safety stock and reorder points with the policy's published version."""
    from tierline.inventory.service import RunOutcome, run_policy
    from tierline.platform.commands import err, run
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err.print(f"[red]error:[/red] --as-of: use a date like 2026-03-31, not '{as_of}'")
        raise typer.Exit(1) from None

    async def main() -> RunOutcome:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"policy {policy}", total=1.0)

                async def progress(fraction: float, message: str) -> None:
                    bar.update(task, completed=fraction, description=message or policy)

                return await run_policy(
                    runtime,
                    ref,
                    policy,
                    actor=Actor("cli", "system"),
                    as_of=day,
                    trigger="cli",
                    progress=progress,
                )

    outcome = run(main)
    counts = outcome.counts
    console.print(
        f"run {outcome.run_id}: {outcome.status} — {counts.get('sku_locations', 0):,} "
        f"SKU-locations, {counts.get('refused', 0):,} refused"
    )
    if outcome.message:
        console.print(outcome.message)


@inventory_app.command("verify")
def verify_command(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    tenant: TenantOption,
) -> None:
    """Recompute a run from its archived statistics; exit 1 when the result differs."""
    from tierline.inventory.service import Verification, verify_run
    from tierline.platform.commands import run
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenancy import tenant_session

    try:
        ident = uuid.UUID(run_id)
    except ValueError:
        console.print(f"[red]error:[/red] '{run_id}' is not a run id")
        raise typer.Exit(1) from None

    async def main() -> Verification:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            async with tenant_session(ref, runtime.databases) as session:
                return await verify_run(session, ident)

    result = run(main)
    if result.same:
        console.print(f"MATCH: run {run_id} recomputed identically ({result.stored_digest})")
        return
    console.print(
        f"DIFFERS: {result.differing_rows:,} SKU-locations (policy hash "
        f"{'ok' if result.policy_hash_matches else 'MISMATCH'}; stored {result.stored_digest}, "
        f"recomputed {result.recomputed_digest})"
    )
    raise typer.Exit(1)
