"""``tierline keys``: rotating a tenant's field-encryption data key from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tierline.platform.encryption.errors import EncryptionError
from tierline.platform.tenancy import TenantNotFound

keys_app = typer.Typer(help="Field-encryption keys.", no_args_is_help=True)


@keys_app.callback()
def _group() -> None:
    """Field-encryption keys."""
    # A callback keeps ``keys_app`` a group: Typer would otherwise collapse a one-command app
    # into that command, and ``rotate`` would stop being a subcommand.


class _NoTenant(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no active tenant '{slug}'")


async def _rotate(slug: str, batch_size: int | None) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tierline.platform.encryption.jobs import rotate_keys
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenant_directory import TenantDirectory

    async with open_runtime() as runtime:
        try:
            tenant = await TenantDirectory(runtime.databases, ttl_seconds=0).get(slug)
        except TenantNotFound:
            raise _NoTenant(slug) from None
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn()
        ) as bar:
            task = bar.add_task("rotating data key", total=1.0)

            def show(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message or "rotating data key")

            return await rotate_keys(
                runtime, tenant, Actor("cli", "system"), show, batch_size=batch_size
            )


def _summary(slug: str, result: dict[str, Any]) -> str:
    verb = "rotated" if result.get("created_key") else "finished rotating"
    line = (
        f"{verb} data key of '{slug}': v{result['from_version']} → v{result['to_version']}, "
        f"re-encrypted {result['rewritten']:,} values in {len(result['columns'])} columns"
    )
    if result.get("unreadable"):
        line += f"; {result['unreadable']:,} values failed their integrity check and were kept"
    return line


@keys_app.command("rotate")
def rotate(
    tenant: Annotated[str, typer.Option("--tenant", help="Slug of the tenant.")],
    batch_size: Annotated[
        int | None, typer.Option(min=1, max=100_000, help="Values per transaction.")
    ] = None,
) -> None:
    """Make a new data key active, then re-encrypt every value under it (resumes an unfinished
    rotation instead of starting another)."""
    # Imported here: the top-level CLI imports this module to mount it.
    from tierline.platform.commands import run

    try:
        result = run(lambda: _rotate(tenant, batch_size))
    except (_NoTenant, EncryptionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(_summary(tenant, result))
