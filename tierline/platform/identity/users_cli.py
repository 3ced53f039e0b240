"""``tierline users``: create and list a tenant's users from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tierline.platform.commands import console, err, run, tenant_by_slug
from tierline.platform.runtime import open_runtime

users_app = typer.Typer(help="Create and list a tenant's users.", no_args_is_help=True)


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
    from tierline.platform.control_plane import migrate_control
    from tierline.platform.identity.users import SYSTEM, UserError, create_user
    from tierline.platform.tenancy import tenant_session

    async def main() -> None:
        async with open_runtime() as runtime:
            await migrate_control(runtime.databases)
            ref = await tenant_by_slug(runtime, tenant)
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
            ref = await tenant_by_slug(runtime, tenant)
            async with tenant_session(ref) as s:
                rows = await list_users(s)
        table = Table("e-mail", "name", "kind", "status", "roles (scope)", "last sign-in")
        for user, grants in rows:
            roles = ", ".join(f"{g.role} ({g.scope})" for g in grants)
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "-"
            table.add_row(user.email, user.display_name, user.kind, user.status, roles, last)
        console.print(table)

    run(main)
