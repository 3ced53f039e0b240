"""``tierline clients``: register and list a tenant's machine clients (ERP, 3PL)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from tierline.platform.commands import TenantOption, console, err, run, tenant_by_slug
from tierline.platform.runtime import open_runtime

clients_app = typer.Typer(help="Register and list machine clients (OAuth2).", no_args_is_help=True)


@clients_app.command("create")
def create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option("--name", help="What the client is, e.g. 'SAP ERP'.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Permissions, comma-separated: 'masterdata:read,…'.")
    ],
) -> None:
    """Register a client; prints its id and secret (the secret only this once)."""
    from tierline.platform.identity.clients import create_client, split_scopes

    async def main() -> tuple[str, str]:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            return await create_client(ref, name, split_scopes(scopes), "cli", actor_kind="system")

    client_id, secret = run(main)
    console.print(f"client_id:     {client_id}", highlight=False)
    console.print(f"client_secret: {secret}", highlight=False)
    err.print(
        "[yellow]warning:[/yellow] the secret is shown only once and cannot be recovered; "
        "store it now (a lost secret means registering a new client)."
    )


@clients_app.command("list")
def list_(tenant: TenantOption) -> None:
    """List a tenant's clients with their scopes, status and last use."""
    from tierline.platform.identity.clients import ClientInfo, list_clients

    async def main() -> list[ClientInfo]:
        async with open_runtime() as runtime:
            return await list_clients(await tenant_by_slug(runtime, tenant))

    rows = run(main)
    table = Table("name", "scopes", "status", "created", "last used")
    # The id is what gets copied into an ERP's configuration: never wrapped across lines.
    table.columns.insert(0, Column("client id", no_wrap=True))
    for c in rows:
        last = c.last_used_at.strftime("%Y-%m-%d %H:%M") if c.last_used_at else "-"
        table.add_row(
            c.client_id,
            c.name,
            " ".join(c.scopes),
            c.status,
            c.created_at.strftime("%Y-%m-%d %H:%M"),
            last,
        )
    console.print(table)


@clients_app.command("revoke")
def revoke(
    tenant: TenantOption,
    client_id: Annotated[str, typer.Option("--client-id", help="The id to revoke.")],
) -> None:
    """Revoke a client: its tokens stop working at once."""
    from tierline.platform.identity.clients import revoke_client

    async def main() -> bool:
        async with open_runtime() as runtime:
            ref = await tenant_by_slug(runtime, tenant)
            return await revoke_client(ref, client_id, "cli", actor_kind="system")

    changed = run(main)
    console.print(f"revoked {client_id}" if changed else f"{client_id} was already revoked")
