"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tierline.platform import api_docs, assembly, metrics, start, tracing
from tierline.platform.access import PUBLIC, requires
from tierline.platform.client_address import parse_networks
from tierline.platform.errors import exception_handler
from tierline.platform.health import health, metrics_endpoint, ready
from tierline.platform.observability import configure_logging, request_context_middleware
from tierline.platform.request_body import CheckedRequest
from tierline.platform.runtime import (
    Runtime,
    build_runtime,
    install_runtime,
    installed_runtime,
)
from tierline.platform.security_headers import SecurityHeaders
from tierline.platform.settings import Settings, get_settings
from tierline.platform.tenant_directory import TenantDirectory

STATIC_DIR = Path(__file__).resolve().parent / "static"


def operator_token(settings: Settings) -> str:
    """The platform operator's API token: the setting, else one generated into the data dir."""
    if settings.operator_token:
        return settings.operator_token
    path = settings.data_dir / "operator.token"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _template_globals(engine: JinjaTemplateEngine) -> None:
    from tierline.platform.navigation import nav_groups, nav_items

    engine.engine.globals["nav_items"] = nav_items
    engine.engine.globals["nav_groups"] = nav_groups


class ApplicationCore(InitPluginProtocol):
    """Wires routes, templates, errors, middleware and the runtime into the app."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime | None,
        run_worker: bool,
        extra_routes: list[Any] | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.run_worker = run_worker
        self.extra_routes = extra_routes or []

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        assembly.install_navigation()
        app_config.route_handlers.extend(
            [
                health,
                ready,
                metrics_endpoint,
                *start.ROUTES,
                *assembly.domain_route_handlers(),
                *self.extra_routes,
            ]
        )
        app_config.route_handlers.append(
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], guards=[requires(PUBLIC)]
            )
        )
        directories: list[Path | os.PathLike[Any] | str] = [*assembly.template_directories()]
        app_config.template_config = TemplateConfig(
            directory=directories, engine=JinjaTemplateEngine, engine_callback=_template_globals
        )
        app_config.openapi_config = OpenAPIConfig(
            title="Tierline API",
            version="1",
            path="/schema",
            description="Tierline's JSON API. Conventions (problem details, cursor pages, "
            "security, tags): see the README's API conventions.",
            render_plugins=[api_docs.ApiDocumentJson(path=["/", "/openapi.json"])],
            openapi_router=Router(
                path="/schema",
                route_handlers=[],
                guards=[requires(PUBLIC)],
                include_in_schema=False,  # the document does not describe itself
            ),
            use_handler_docstrings=True,
            components=api_docs.components(),
            tags=api_docs.tags(assembly.api_tags()),
        )
        app_config.request_class = CheckedRequest
        app_config.exception_handlers = {Exception: exception_handler}
        app_config.lifespan.append(self.lifespan)
        app_config.debug = False
        app_config.logging_config = None  # ours (observability.configure_logging) stays in charge
        app_config.request_max_body_size = self.settings.max_request_bytes
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        owns_runtime = self.runtime is None
        runtime = self.runtime
        if runtime is None:
            runtime = await asyncio.to_thread(build_runtime, self.settings)
        previous = installed_runtime()  # an embedding process (or a test) had its own
        install_runtime(runtime)
        tracing.instrument_databases(runtime.databases, tracing.tracer_provider(self.settings))
        app.state.runtime = runtime
        app.state.settings = self.settings
        app.state.tenants = TenantDirectory(runtime.databases)
        app.state.operator_token = operator_token(self.settings)
        app.state.metrics_token = self.settings.metrics_token or app.state.operator_token
        from tierline.platform.identity.session_cache import STATE_KEY as SESSION_CACHE
        from tierline.platform.identity.session_cache import SessionCache
        from tierline.platform.identity.web import install as install_identity

        install_identity()
        sessions = SessionCache()
        await sessions.start(runtime.endpoints.redis_url)
        app.state[SESSION_CACHE] = sessions
        metrics.register_cache("sessions", sessions)
        metrics.register_cache("tenant_directory", app.state.tenants)
        directory = app.state.tenants
        worker: asyncio.Task[None] | None = None
        if self.run_worker:
            from tierline.platform.jobs.supervisor import WorkerSupervisor

            assembly.load_job_handlers()
            supervisor = WorkerSupervisor(runtime)
            app.state.worker_supervisor = supervisor
            worker = asyncio.create_task(supervisor.run())
        hooks = contextlib.AsyncExitStack()
        try:
            for hook in assembly.domain_lifespans():
                await hooks.enter_async_context(hook(app, runtime))
            if owns_runtime:  # a serving process (``tierline serve``), not an embedding test
                _settle_heap()
            yield
        finally:
            await hooks.aclose()
            metrics.unregister_cache("sessions", sessions)
            metrics.unregister_cache("tenant_directory", directory)
            app.state[SESSION_CACHE] = None
            await sessions.stop()
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            install_runtime(previous)
            if owns_runtime:
                await runtime.close()


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    run_worker: bool = False,
    extra_routes: list[Any] | None = None,
) -> Litestar:
    """Build the app. Tests pass an open ``runtime``; ``serve`` lets the app open its own.

    ``extra_routes`` lets an embedding application (or a test) mount more handlers; they go
    through the same permission, error and logging machinery as Tierline's own.
    """
    settings = settings or (runtime.settings if runtime else get_settings())
    configure_logging(settings.log_level, settings.log_format)
    plugins: list[Any] = [ApplicationCore(settings, runtime, run_worker, extra_routes)]
    provider = tracing.tracer_provider(settings)
    middleware: list[Any] = []
    if provider is not None:
        plugins.append(tracing.http_plugin(provider))
        middleware.append(tracing.route_names)
    app = Litestar(plugins=plugins, middleware=middleware, state=State({}))
    _guards_read_the_handler(app)
    api_docs.document_api(app, assembly.api_tag_of)
    # Outside Litestar's own exception handling, so unrouted requests (404) get an id and a log
    # line too, and error bodies can quote the id. One layer for both: the request id and the
    # security headers on every response.
    app.asgi_handler = request_context_middleware(
        head_as_get(app.asgi_handler),
        SecurityHeaders(hsts=settings.secure_cookies).apply,
        parse_networks(settings.trusted_proxies),
    )
    return app


def head_as_get(app: ASGIApp) -> ASGIApp:
    """Answer ``HEAD`` for every ``GET`` route: the same status and headers, no body (HTTP says
    a server that answers GET answers HEAD; link checkers and monitors rely on it)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "HEAD":
            await app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app({**scope, "method": "GET"}, receive, headers_only)  # type: ignore[arg-type,misc]

    return middleware


def _settle_heap() -> None:
    """Keep the cycle collector's full passes short and rare in a serving process.

    A full collection stalls every request in flight for as long as it takes to walk every
    tracked object. Everything alive once start-up is done (modules, classes, routes,
    templates: some 260,000 objects) stays alive for the life of the process, so ``gc.freeze``
    takes it out of the collector's reach (collected first, so no garbage is frozen; frozen
    objects are still freed as usual when their last reference goes). What remains is mostly
    the warm caches (sessions, portal answers, policy engines), which live long too; a later
    middle-generation pass (every 50 young passes rather than 10) keeps the objects of
    requests in flight from being promoted and counted towards a full pass, which under load
    then comes about once a few minutes instead of every few seconds (measured with 10,000
    portal sessions: a full pass takes ~100 ms, a middle one ~7 ms)."""
    gc.collect()
    gc.freeze()
    young, _middle, _old = gc.get_threshold()
    gc.set_threshold(young, 50, 50)


def _guards_read_the_handler(app: Litestar) -> None:
    """Run Tierline's route guards on the route handler itself instead of a copy.

    Litestar hands every guard ``copy(handler)``, a copy of a ~60-attribute object made on
    every request (about 15 µs, some 5 % of a cached portal request). Tierline's guards
    (``access.requires``) only read the handler, so for handlers whose guards are all ours the
    same guards run, in the same order, on the same connection, without the defensive copy.
    A handler with any other guard keeps Litestar's behaviour."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards = handler.resolve_guards()
            if (
                guards
                and all(getattr(g, "permission", None) for g in guards)
                and hasattr(handler, "__dict__")
            ):
                handler.__dict__["authorize_connection"] = types.MethodType(
                    _authorize_connection, handler
                )


async def _authorize_connection(handler: Any, connection: Any) -> None:
    for guard in handler.resolve_guards():
        await guard(connection, handler)


def _asgi_factory() -> Any:
    return create_app()
