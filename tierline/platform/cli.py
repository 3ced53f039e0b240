"""The ``tierline`` command line: the chassis' own commands, and every package's declared
commands mounted through ``assembly``. Each command is a thin shell around domain functions."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tierline.platform import assembly
from tierline.platform.commands import console, err, serve_app
from tierline.platform.settings import SettingsError, get_settings

app = typer.Typer(help="Tierline: supply-chain segmentation platform.", no_args_is_help=True)
services_app = typer.Typer(help="The embedded PostgreSQL and Redis.", no_args_is_help=True)
app.add_typer(services_app, name="services")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool | None, typer.Option(help="Also run a job worker (default: on in embedded mode).")
    ] = None,
) -> None:
    """Serve the web app and API."""
    serve_app(host, port, worker)


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


assembly.mount_commands(app)


def main(argv: list[str] | None = None) -> Any:
    try:
        return app(argv, standalone_mode=True)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        sys.exit(2)
