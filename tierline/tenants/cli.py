"""``tierline tenants`` (create, list, delete) and ``tierline migrate``: the tenant lifecycle."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierline.platform.commands import console, run
from tierline.platform.runtime import open_runtime
from tierline.platform.settings import get_settings
from tierline.platform.tenancy import TenantNotFound

tenants_app = typer.Typer(help="Create, list and delete tenants.", no_args_is_help=True)


def migrate(
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Schemas at once (default: setting).")
    ] = None,
) -> None:
    """Upgrade the control database and every tenant schema in every region."""
    from tierline.tenants.migrate import SchemaResult, migrate_all

    async def main() -> int:
        settings = get_settings()
        async with open_runtime(settings) as runtime:
            with Progress(
                TextColumn("[bold]migrating tenant schemas"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as progress:
                task = progress.add_task("schemas", total=None)

                def total(n: int) -> None:
                    progress.update(task, total=n)

                def step(result: SchemaResult) -> None:
                    progress.advance(task)
                    if result.status == "failed":
                        progress.console.print(
                            f"[red]failed[/red] {result.slug} ({result.region}): {result.error}"
                        )

                report = await migrate_all(
                    runtime.databases,
                    concurrency or settings.migrate_concurrency,
                    on_total=total,
                    on_result=step,
                    runtime=runtime,
                )
        control = (
            f"upgraded {report.control_before or 'empty'} → {report.control_after}"
            if report.control_before != report.control_after
            else f"current at {report.control_after}"
        )
        console.print(f"control database: {control}")
        console.print(
            f"tenant schemas (head {report.head}): {report.count('upgraded')} upgraded, "
            f"{report.count('current')} current, {len(report.failed)} failed"
        )
        return 1 if report.failed else 0

    raise typer.Exit(run(main))


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Argument(help="3-40 chars: lowercase letters, digits, '_'.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    region: Annotated[str, typer.Option(help="Region that will hold all its data.")],
) -> None:
    """Create a tenant and its fully migrated schema in one region (all or nothing)."""
    from tierline.platform.control_plane import migrate_control
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.service import provision_tenant

    async def main() -> None:
        async with open_runtime() as runtime:
            await migrate_control(runtime.databases)
            tenant = await provision_tenant(
                runtime.databases, slug, name, region, kms=kms_from_settings(runtime.settings)
            )
        console.print(
            f"created tenant [bold]{tenant.slug}[/bold] in region {tenant.region} "
            f"(schema {tenant.schema})"
        )

    run(main)


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants with their region, schema, status and migration revision."""
    from tierline.platform.control_plane import migrate_control
    from tierline.platform.tenant_directory import list_tenants

    async def main() -> None:
        async with open_runtime() as runtime:
            await migrate_control(runtime.databases)
            infos = await list_tenants(runtime.databases)
        table = Table("slug", "name", "region", "schema", "status", "revision", "created")
        for i in infos:
            table.add_row(
                i.slug,
                i.name,
                i.region,
                i.schema,
                i.status,
                i.revision or "-",
                i.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        console.print(table)

    run(main)


async def _delete(slug: str, confirm: str) -> str:
    from tierline.platform.control_plane import migrate_control
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.tenants.deletion import delete_tenant

    async with open_runtime() as runtime:
        await migrate_control(runtime.databases)
        done = await delete_tenant(runtime.databases, slug, confirm, Actor("cli", "system"))
    if not done.schema_existed:
        return f"deleted tenant '{slug}' (its schema {done.schema} was already gone)"
    return (
        f"deleted tenant '{slug}': schema {done.schema} dropped in region {done.region}, "
        f"{done.data_keys} data keys shredded"
    )


@tenants_app.command("delete")
def delete_command(
    slug: Annotated[str, typer.Argument(help="Slug of the tenant to delete.")],
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The slug again, to confirm without a prompt."),
    ] = None,
) -> None:
    """Delete a tenant and all of its data for good; its encryption keys are destroyed first,
    so its encrypted values are unreadable even in copies made without them."""
    typed = confirm if confirm is not None else str(typer.prompt("Type the slug to confirm"))
    try:
        message = run(lambda: _delete(slug, typed))
    except (TenantNotFound, ValueError) as exc:
        # TenantNotFound carries only the slug; ValueError (wrong confirmation) says what to do.
        reason = f"no tenant '{slug}'" if isinstance(exc, TenantNotFound) else str(exc)
        typer.echo(f"error: {reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(message)
