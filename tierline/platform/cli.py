"""The ``tierline`` command line. Each command is a thin shell around domain functions."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierline.platform.audit.cli import audit_app
from tierline.platform.encryption.cli import keys_app
from tierline.platform.identity.clients_cli import clients_app
from tierline.platform.runtime import open_runtime
from tierline.platform.settings import SettingsError, get_settings
from tierline.segmentation.cli import segment_app
from tierline.tenants.cli import delete_command

app = typer.Typer(help="Tierline: supply-chain segmentation platform.", no_args_is_help=True)
tenants_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
services_app = typer.Typer(help="The embedded PostgreSQL and Redis.", no_args_is_help=True)
users_app = typer.Typer(help="Create and list a tenant's users.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(services_app, name="services")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(segment_app, name="segment")
tenants_app.command("delete")(delete_command)

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _expected_errors() -> tuple[type[BaseException], ...]:
    from tierline.platform.databases import RegionMismatch, RegionUnavailable, UnknownRegion
    from tierline.platform.db import InvalidSlug
    from tierline.platform.embedded import EmbeddedServiceError
    from tierline.platform.errors import DomainError
    from tierline.segmentation.scheme import SchemeInvalid
    from tierline.tenants.errors import ProvisioningFailed, TenantError

    return (
        SettingsError,
        InvalidSlug,
        UnknownRegion,
        RegionUnavailable,
        RegionMismatch,
        TenantError,
        ProvisioningFailed,
        EmbeddedServiceError,
        DomainError,
        SchemeInvalid,
    )


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; known failures become a one-line error and exit status 1."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except _expected_errors() as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@app.command()
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
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.migrate import migrate_control
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
    from tierline.tenants.migrate import migrate_control
    from tierline.tenants.service import list_tenants

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


async def _tenant_by_slug(runtime: Any, slug: str) -> Any:
    from tierline.platform.tenancy import TenantNotFound
    from tierline.tenants.errors import TenantError
    from tierline.tenants.service import TenantDirectory

    try:
        return await TenantDirectory(runtime.databases, ttl_seconds=0).get(slug)
    except TenantNotFound:
        raise TenantError(f"no active tenant '{slug}'") from None


@users_app.command("create")
def users_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    email: Annotated[str, typer.Option(help="The user's e-mail (their sign-in name).")],
    role: Annotated[
        str,
        typer.Option(
            help="admin, planner, data_steward, approver, "
            "account_manager, analyst, auditor or customer."
        ),
    ],
    scope: Annotated[str, typer.Option(help="Business scope: * or a region/unit code.")] = "*",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    customer: Annotated[
        str | None, typer.Option(help="Customer account code (portal users).")
    ] = None,
    invite: Annotated[
        bool, typer.Option(help="Print an invitation link instead of a password.")
    ] = False,
) -> None:
    """Create a user; prints a one-time password (changed at first sign-in) or an invite link."""
    from tierline.platform.identity.users import SYSTEM, UserError, create_user
    from tierline.platform.tenancy import tenant_session
    from tierline.tenants.migrate import migrate_control

    async def main() -> None:
        async with open_runtime() as runtime:
            await migrate_control(runtime.databases)
            ref = await _tenant_by_slug(runtime, tenant)
            async with tenant_session(ref) as s:
                created = await create_user(
                    s,
                    email=email,
                    role=role,
                    scope=scope,
                    display_name=name,
                    actor=SYSTEM,
                    kind="customer" if role == "customer" else "staff",
                    customer_code=customer,
                    invite=invite,
                )
            base = runtime.settings.base_url
        console.print(f"created {created.user.email} ({role}, scope {scope}) in {tenant}")
        if created.invitation_token:
            console.print(
                f"invitation link (valid 7 days): {base}/t/{tenant}/invitation/"
                f"{created.invitation_token}"
            )
        else:
            console.print(
                f"one-time password (must be changed at first sign-in): "
                f"[bold]{created.one_time_password}[/bold]"
            )

    try:
        run(main)
    except UserError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@users_app.command("list")
def users_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's users with their status and roles."""
    from tierline.platform.identity.users import list_users
    from tierline.platform.tenancy import tenant_session

    async def main() -> None:
        async with open_runtime() as runtime:
            ref = await _tenant_by_slug(runtime, tenant)
            async with tenant_session(ref) as s:
                rows = await list_users(s)
        table = Table("e-mail", "name", "kind", "status", "roles (scope)", "last sign-in")
        for user, grants in rows:
            roles = ", ".join(f"{g.role} ({g.scope})" for g in grants)
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "-"
            table.add_row(user.email, user.display_name, user.kind, user.status, roles, last)
        console.print(table)

    run(main)


@app.command("import")
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

    from tierline.masterdata.importing import run_import
    from tierline.masterdata.profile_store import get_profile
    from tierline.masterdata.profiles import ProfileError
    from tierline.platform.identity.users import SYSTEM
    from tierline.platform.tenancy import tenant_session

    async def main() -> int:
        async with open_runtime() as runtime:
            ref = await _tenant_by_slug(runtime, tenant)
            async with tenant_session(ref) as s:
                chosen = await get_profile(s, profile, entity)
            if source:
                chosen = dataclasses.replace(chosen, source_system=source.lower())
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"importing {entity}", total=1.0)

                async def progress(fraction: float, message: str) -> None:
                    bar.update(task, completed=fraction, description=message)

                result = await run_import(
                    runtime, ref, entity, file, chosen, SYSTEM, progress=progress
                )
        if result.status == "applied":
            console.print(f"[green]applied[/green] {result.summary()}")
            return 0
        err.print(f"[red]rejected[/red] {result.summary()}")
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool | None, typer.Option(help="Also run a job worker (default: on in embedded mode).")
    ] = None,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from tierline.platform.app import create_app

    settings = get_settings()
    with_worker = settings.embedded_redis if worker is None else worker
    if settings.embedded_databases:
        _migrate_quietly()
    application = create_app(settings, run_worker=with_worker)
    uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)


def _migrate_quietly() -> None:
    """On the embedded default, bring the databases to head before serving."""
    from tierline.tenants.migrate import migrate_all

    async def main() -> None:
        async with open_runtime() as runtime:
            report = await migrate_all(runtime.databases)
        for failed in report.failed:
            err.print(f"[yellow]warning:[/yellow] {failed.slug} not migrated: {failed.error}")

    run(main)


@app.command()
def worker() -> None:
    """Run the job worker for all tenants."""
    from arq.worker import Worker

    from tierline.platform.assembly import load_job_handlers
    from tierline.platform.jobs.worker import worker_kwargs
    from tierline.platform.observability import configure_logging
    from tierline.platform.runtime import build_runtime, install_runtime

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    load_job_handlers()
    runtime = build_runtime(settings)
    install_runtime(runtime)
    console.print("worker started; Ctrl-C to stop")
    Worker(**worker_kwargs(runtime)).run()


@services_app.command("status")
def services_status() -> None:
    """Show whether the embedded servers run, and on which ports."""
    from tierline.platform.embedded import embedded_status

    for name, port in embedded_status(get_settings().data_dir).items():
        console.print(f"{name}: " + (f"running on 127.0.0.1:{port}" if port else "stopped"))


@services_app.command("start")
def services_start() -> None:
    """Start the embedded servers (other commands do this on demand)."""
    from tierline.platform.embedded import embedded_status, start_embedded

    settings = get_settings()
    start_embedded(settings.data_dir, settings.embedded_regions)
    for name, port in embedded_status(settings.data_dir).items():
        console.print(f"{name}: running on 127.0.0.1:{port}")


@services_app.command("stop")
def services_stop() -> None:
    """Stop the embedded servers cleanly."""
    from tierline.platform.embedded import stop_embedded

    stopped = stop_embedded(get_settings().data_dir)
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


demo_app = typer.Typer(help="The demo: tenants, users and data to try Tierline on.")
app.add_typer(demo_app, name="demo")


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
    from tierline.platform.demo import prepare_demo

    settings = get_settings()
    lines: list[str] = run(lambda: prepare_demo(settings, f"http://{host}:{port}", console))
    for line in lines:
        console.print(line)
    if serve_app:
        serve(host=host, port=port, worker=True)


@demo_app.command("seed")
def demo_seed(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    scale: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
) -> None:
    """Load a realistic synthetic data set through the import pipeline."""
    from tierline.masterdata.seeding import SeedFailed, seed_tenant

    async def main() -> None:
        async with open_runtime() as runtime:
            ref = await _tenant_by_slug(runtime, tenant)
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("seeding", total=1.0)

                async def progress(fraction: float, message: str) -> None:
                    bar.update(task, completed=fraction, description=message)

                results = await seed_tenant(runtime, ref, scale, seed, progress)
        rows = sum(r.total_rows for r in results)
        console.print(f"seeded {tenant} with the {scale} data set: {rows:,} rows")

    try:
        run(main)
    except (SeedFailed, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def main(argv: list[str] | None = None) -> Any:
    try:
        return app(argv, standalone_mode=True)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        sys.exit(2)
