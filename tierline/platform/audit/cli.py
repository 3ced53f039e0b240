"""``tierline audit``: checking a tenant's audit chain from the command line.

Output is plain ``typer.echo`` rather than Rich markup, because a break's reason is data and
must be printed exactly as the verifier phrased it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tierline.platform.audit.service import VerifyResult, verify_chain
from tierline.platform.tenancy import TenantNotFound, tenant_session

audit_app = typer.Typer(help="The tenant audit log.", no_args_is_help=True)


@audit_app.callback()
def _group() -> None:
    """The tenant audit log."""
    # A callback keeps ``audit_app`` a group: Typer would otherwise collapse a one-command app
    # into that command, and ``verify`` would stop being a subcommand.


async def _verify(slug: str) -> VerifyResult | None:
    """The chain check for ``slug``; None when no active tenant has that slug."""
    from tierline.platform.runtime import open_runtime
    from tierline.platform.tenant_directory import TenantDirectory

    async with open_runtime() as runtime:
        try:
            tenant = await TenantDirectory(runtime.databases).get(slug)
        except TenantNotFound:
            return None
        async with tenant_session(tenant, runtime.databases) as session:
            return await verify_chain(session)


@audit_app.command("verify")
def verify(
    tenant: Annotated[str, typer.Option("--tenant", help="Slug of the tenant to check.")],
) -> None:
    """Walk the tenant's whole audit log and check every hash link (exit 1 if broken)."""
    # Imported here: the top-level CLI imports this module to mount it.
    from tierline.platform.commands import run

    result = run(lambda: _verify(tenant))
    if result is None:
        typer.echo(f"error: no active tenant {tenant!r}", err=True)
        raise typer.Exit(1)
    if not result.ok:
        typer.echo(f"BROKEN at entry {result.broken_seq}: {result.reason}")
        raise typer.Exit(1)
    typer.echo(f"OK: {result.checked} entries verified")
