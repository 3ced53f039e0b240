"""``tierline segment``: schemes and classification runs from the command line."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierline.platform.commands import TenantOption, tenant_by_slug

segment_app = typer.Typer(
    help="Segmentation schemes and classification runs.", no_args_is_help=True
)
console = Console()


@segment_app.command("run")
def run_command(
    tenant: TenantOption,
    scheme: Annotated[str, typer.Option("--scheme", help="Scheme code.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Run as of this day (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Classify now with the scheme's published version and apply what its rules allow."""
    from tierline.platform.commands import err, run
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.segmentation.runs.service import RunOutcome, run_scheme

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
                task = bar.add_task(f"classifying with {scheme}", total=1.0)

                async def progress(fraction: float, message: str) -> None:
                    bar.update(task, completed=fraction, description=message or scheme)

                return await run_scheme(
                    runtime,
                    ref,
                    scheme,
                    actor=Actor("cli", "system"),
                    as_of=day,
                    trigger="cli",
                    progress=progress,
                )

    outcome = run(main)  # a refused as-of date: one line on stderr, exit 1
    if outcome.status != "succeeded":
        err.print(
            f"[red]error:[/red] run {outcome.run_id} {outcome.status}: {outcome.message}",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(f"run {outcome.run_id}: {outcome.status}")
    for warning in outcome.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    table = Table("outcome", "entities")
    for name, count in sorted(outcome.counts.get("outcomes", {}).items()):
        table.add_row(name, f"{count:,}")
    console.print(table)


@segment_app.command("verify")
def verify_command(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    tenant: TenantOption,
) -> None:
    """Recompute a run from its archived features; exit 1 when the result differs."""
    from tierline.platform.commands import run
    from tierline.platform.runtime import open_runtime
    from tierline.segmentation.runs.verify import Verification, verify_run

    try:
        ident = uuid.UUID(run_id)
    except ValueError:
        console.print(f"[red]error:[/red] '{run_id}' is not a run id")
        raise typer.Exit(1) from None

    async def main() -> Verification:
        async with open_runtime() as runtime:
            return await verify_run(runtime, await tenant_by_slug(runtime, tenant), ident)

    result = run(main)
    if result.matches:
        console.print(
            f"MATCH: {result.entities:,} entities recomputed identically "
            f"(engine {result.recorded_engine} -> {result.current_engine})"
        )
        return
    console.print(
        f"DIFFERS: {result.differing:,} of {result.entities:,} entities "
        f"(scheme hash {'ok' if result.scheme_hash_ok else 'MISMATCH'}, "
        f"engine {result.recorded_engine} -> {result.current_engine})"
    )
    for example in result.examples:
        console.print(f"  {example}")
    raise typer.Exit(1)


@segment_app.command("publish")
def publish_command(
    file: Annotated[Path, typer.Argument(help="Scheme document (YAML or JSON).", exists=True)],
    tenant: TenantOption,
    note: Annotated[str | None, typer.Option(help="Why this version.")] = None,
) -> None:
    """Create the scheme if new, make the file its draft and publish it."""
    from tierline.platform.commands import run
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenancy import tenant_session
    from tierline.segmentation.schemes.document import SchemeInvalid, parse_scheme
    from tierline.segmentation.schemes.store import create_scheme, publish, save_draft

    source = file.read_text(encoding="utf-8")
    try:
        code = parse_scheme(source).scheme.code
    except SchemeInvalid as invalid:
        console.print(f"[red]{invalid}[/red]")
        raise typer.Exit(1) from None
    actor = Actor("cli", "system")

    async def main() -> int:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            async with tenant_session(ref, runtime.databases) as session:
                from tierline.segmentation.models import SegmentationScheme

                if await session.get(SegmentationScheme, code) is None:
                    await create_scheme(session, source, actor)
                else:
                    await save_draft(session, code, source, actor)
                version = await publish(session, code, actor, note)
                return version.version

    number = run(main)
    console.print(f"published {code} version {number}")


@segment_app.command("list")
def list_command(tenant: TenantOption) -> None:
    """The tenant's schemes, their versions in force and schedules."""
    from tierline.platform.commands import run
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenancy import tenant_session
    from tierline.segmentation.schemes.store import list_schemes, scheme_summary

    async def main() -> list[dict[str, Any]]:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            async with tenant_session(ref, runtime.databases) as session:
                return [scheme_summary(row) for row in await list_schemes(session)]

    table = Table("code", "entity", "version", "last run", "next run")
    for row in run(main):
        table.add_row(
            row["code"],
            row["entity"],
            str(row["published_version"] or "draft"),
            str(row["last_run_at"] or "-"),
            str(row["next_run_at"] or "manual"),
        )
    console.print(table)
