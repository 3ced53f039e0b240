"""``tierline import``: load a master-data or order file through the import pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierline.platform.commands import console, err, progress_bar, run, tenant_by_slug
from tierline.platform.runtime import open_runtime


def import_file(
    entity: Annotated[
        str,
        typer.Argument(
            help="customers, products, uom_conversions, locations, "
            "suppliers, order_lines, inventory_positions, lead_times "
            "or cost_to_serve."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="CSV or XLSX file.", exists=True, dir_okay=False)],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    profile: Annotated[str | None, typer.Option(help="Mapping profile (default: generic).")] = None,
    source: Annotated[
        str | None, typer.Option(help="Source system, overriding the profile's.")
    ] = None,
) -> None:
    """Validate a file completely, then load all of it in one transaction, or nothing."""
    import dataclasses

    from tierline.masterdata.importing.service import run_import
    from tierline.masterdata.profiles.definition import ProfileError
    from tierline.masterdata.profiles.service import get_profile
    from tierline.platform.identity.users import SYSTEM
    from tierline.platform.tenancy import tenant_session

    async def main() -> int:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            async with tenant_session(ref) as s:
                chosen = await get_profile(s, profile, entity)
            if source:
                chosen = dataclasses.replace(chosen, source_system=source.lower())
            with progress_bar(f"importing {entity}") as progress:
                result = await run_import(
                    runtime, ref, entity, file, chosen, SYSTEM, progress=progress
                )
        if result.status == "applied":
            console.print(f"[green]applied:[/green] {result.summary()}")
            return 0
        err.print(f"[red]rejected:[/red] {result.summary()}")
        for e in result.errors[:20]:
            where = f"line {e['line']}" if e["line"] is not None else "file"
            column = f", column {e['column']}" if e["column"] else ""
            value = f", value {e['value']!r}" if e["value"] is not None else ""
            err.print(f"  {where}{column}{value}: {e['reason']}")
        if result.error_count > 20:
            err.print(f"  … and {result.error_count - 20} more (see the import page)")
        return 1

    try:
        raise typer.Exit(run(main))
    except (ProfileError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
