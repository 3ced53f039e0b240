"""Tenant commands that live with the tenant lifecycle: ``tierline tenants delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from tierline.platform.tenancy import TenantNotFound


async def _delete(slug: str, confirm: str) -> str:
    from tierline.platform.identity.users import Actor
    from tierline.platform.runtime import open_runtime
    from tierline.tenants.deletion import delete_tenant
    from tierline.tenants.migrate import migrate_control

    async with open_runtime() as runtime:
        await migrate_control(runtime.databases)
        done = await delete_tenant(runtime.databases, slug, confirm, Actor("cli", "system"))
    if not done.schema_existed:
        return f"deleted tenant '{slug}' (its schema {done.schema} was already gone)"
    return (
        f"deleted tenant '{slug}': schema {done.schema} dropped in region {done.region}, "
        f"{done.data_keys} data keys shredded"
    )


def delete_command(
    slug: Annotated[str, typer.Argument(help="Slug of the tenant to delete.")],
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The slug again, to confirm without a prompt."),
    ] = None,
) -> None:
    """Delete a tenant and all of its data for good; its encryption keys are destroyed first,
    so its encrypted values are unreadable even in copies made without them."""
    # Imported here: the top-level CLI imports this module to mount it.
    from tierline.platform.cli import run

    typed = confirm if confirm is not None else str(typer.prompt("Type the slug to confirm"))
    try:
        message = run(lambda: _delete(slug, typed))
    except (TenantNotFound, ValueError) as exc:
        # TenantNotFound carries only the slug; ValueError (wrong confirmation) says what to do.
        reason = f"no tenant '{slug}'" if isinstance(exc, TenantNotFound) else str(exc)
        typer.echo(f"error: {reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(message)
