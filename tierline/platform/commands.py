"""What every ``tierline`` command shares: the consoles, running a coroutine with known failures
turned into one line, finding a tenant by slug, progress bars, and serving the app.

Domain command modules import this, never the root ``cli`` (which mounts them).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tierline.platform.errors import DomainError
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

# Piped into a file or another program, Rich would fit tables into 80 columns and cut e-mail
# addresses and names short; a pipe gets whole lines instead.
_PIPED_WIDTH = 10_000
console = Console(width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err = Console(stderr=True, width=None if sys.stderr.isatty() else _PIPED_WIDTH)
T = TypeVar("T")

ProgressReport = Callable[[float, str], Awaitable[None]]

# The ``--tenant`` option every tenant-scoped command takes (resolve it with ``tenant_by_slug``).
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]


class NoSuchTenant(DomainError):
    """A command named a tenant that does not exist or is not active."""

    status_code = 404
    title = "Not Found"

    def __init__(self, slug: str) -> None:
        super().__init__(f"no active tenant '{slug}'")


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures a user can act on: printed as one line, exit status 1, no traceback."""
    from tierline.platform.databases import RegionMismatch, RegionUnavailable, UnknownRegion
    from tierline.platform.db import InvalidSlug
    from tierline.platform.embedded import EmbeddedServiceError
    from tierline.platform.settings import SettingsError

    return (
        SettingsError,
        InvalidSlug,
        UnknownRegion,
        RegionUnavailable,
        RegionMismatch,
        EmbeddedServiceError,
        DomainError,
    )


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; known failures become a one-line error and exit status 1."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except expected_errors() as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


async def tenant_by_slug(runtime: Runtime, slug: str) -> TenantRef:
    """The active tenant ``slug`` (read from the control plane now, not from a cache)."""
    from tierline.platform.tenancy import TenantNotFound
    from tierline.platform.tenant_directory import TenantDirectory

    try:
        return await TenantDirectory(runtime.databases, ttl_seconds=0).get(slug)
    except TenantNotFound:
        raise NoSuchTenant(slug) from None


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressReport]:
    """A progress bar on the console; yields the ``(fraction, message)`` reporter to pass on."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(description, total=1.0)

        async def report(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message or description)

        yield report


def serve_app(host: str, port: int, worker: bool | None) -> None:
    """Serve the web app and API (and, by default in embedded mode, a job worker)."""
    import uvicorn

    from tierline.platform.app import create_app
    from tierline.platform.settings import get_settings

    settings = get_settings()
    with_worker = settings.embedded_redis if worker is None else worker
    if settings.embedded_databases:
        _migrate_quietly()
    application = create_app(settings, run_worker=with_worker)
    # Forwarded headers are judged by the app itself (``client_address``), against
    # TIERLINE_TRUSTED_PROXIES: uvicorn's own handling would believe any loopback caller.
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


def _migrate_quietly() -> None:
    """On the embedded default, bring the databases to head before serving (each package's
    declared preparation)."""
    from tierline.platform import assembly
    from tierline.platform.runtime import open_runtime

    async def main() -> None:
        warnings: list[str] = []
        async with open_runtime() as runtime:
            for prepare in assembly.before_serving():
                warnings += await prepare(runtime)
        for warning in warnings:
            err.print(f"[yellow]warning:[/yellow] {warning}")

    run(main)
