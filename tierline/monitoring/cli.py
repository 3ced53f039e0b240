"""``tierline kpi``: bring a tenant's KPIs up to date and evaluate its alerts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from tierline.platform.commands import TenantOption

kpi_app = typer.Typer(help="Service performance: KPI computation and alerts.", no_args_is_help=True)
console = Console()


@kpi_app.command("compute")
def compute_command(
    tenant: TenantOption,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every period, not only the touched ones.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Measure as of this day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Recompute the KPIs (only the periods new order lines touched, unless --full), then
    evaluate the alerts and walk their escalation paths."""
    from tierline.monitoring.refresh import RefreshOutcome, refresh
    from tierline.platform.commands import err, run, tenant_by_slug
    from tierline.platform.runtime import open_runtime

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err.print(f"[red]error:[/red] --as-of: use a date like 2026-03-31, not '{as_of}'")
        raise typer.Exit(1) from None

    async def main() -> RefreshOutcome:
        async with open_runtime() as runtime:
            ref: Any = await tenant_by_slug(runtime, tenant)
            with console.status("computing KPIs"):
                return await refresh(runtime, ref, full=full, as_of=day)

    outcome = run(main)
    console.print(outcome.summary())
