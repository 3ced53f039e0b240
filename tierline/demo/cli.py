"""``tierline demo``: demo tenants, logins and data to try Tierline on, then serve."""

from __future__ import annotations

from typing import Annotated

import typer

from tierline.platform import commands
from tierline.platform.commands import console, err, progress_bar, run, tenant_by_slug
from tierline.platform.runtime import open_runtime
from tierline.platform.settings import get_settings

demo_app = typer.Typer(help="The demo: tenants, users and data to try Tierline on.")


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    serve_app: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server.")] = True,
) -> None:
    """Demo tenants in every region with a login per role and small data, then serve."""
    if ctx.invoked_subcommand is not None:
        return
    from tierline.demo.steps import prepare_demo

    settings = get_settings()
    lines: list[str] = run(lambda: prepare_demo(settings, f"http://{host}:{port}", console))
    for line in lines:
        console.print(line)
    if serve_app:
        commands.serve_app(host, port, worker=True)


@demo_app.command("seed")
def demo_seed(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    scale: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
) -> None:
    """Load a realistic synthetic data set through the import pipeline."""
    from tierline.demo.seeding import SeedFailed, seed_tenant

    async def main() -> None:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            with progress_bar("seeding") as progress:
                results = await seed_tenant(runtime, ref, scale, seed, progress)
        rows = sum(r.total_rows for r in results)
        console.print(f"seeded {tenant} with the {scale} data set: {rows:,} rows")

    try:
        run(main)
    except (SeedFailed, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
