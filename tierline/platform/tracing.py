"""Optional OpenTelemetry tracing across HTTP requests, SQL and Redis (off by default).

``TIERLINE_TRACING=otlp`` sends spans to an OTLP/HTTP collector configured with the standard
OpenTelemetry variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_SERVICE_NAME``); ``console`` prints them (for trying it out);
``TIERLINE_TRACING_SAMPLE`` is the share of traces kept (parent-based, so a sampled request
keeps all its SQL and Redis spans). Needs the ``tracing`` extra (``pip install
'tierline[tracing]'``). Span names carry route templates and SQL statements with their bound
values left out, never a tenant's data.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tierline.platform.settings import Settings, SettingsError

if TYPE_CHECKING:
    from tierline.platform.databases import Databases

log = logging.getLogger(__name__)

_provider: Any = None
_instrumented: set[int] = set()


def _require() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise SettingsError(
            "TIERLINE_TRACING needs the tracing extra: pip install 'tierline[tracing]'"
        ) from None


def tracer_provider(settings: Settings, exporter: Any = None) -> Any:
    """The process's tracer provider (made once), or None when tracing is off. ``exporter``
    replaces the configured one (tests pass an in-memory exporter)."""
    global _provider
    if settings.tracing == "off" and exporter is None:
        return None
    if _provider is not None:
        return _provider
    _require()
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": "tierline"}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.tracing == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument(tracer_provider=provider)
    log.info("tracing on (%s, sampling %.0f%%)", settings.tracing, settings.tracing_sample * 100)
    return provider


def http_plugin(provider: Any) -> Any:
    """Litestar's OpenTelemetry plugin (one server span per request), with span names that
    carry the route template. The span starts before routing, when only the raw path is known
    (it holds tenant slugs and ids), so it starts as just the method and is renamed once the
    route is known (``route_names``)."""
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    return OpenTelemetryPlugin(
        OpenTelemetryConfig(tracer_provider=provider, scope_span_details_extractor=_span_start)
    )


def _span_start(scope: Any) -> tuple[str, dict[str, str]]:
    return str(scope.get("method", "")).strip() or "request", {}


def route_names(app: Any) -> Any:
    """Middleware (after routing) naming the current server span ``GET /t/{tenant}/…``."""
    from litestar.enums import ScopeType
    from opentelemetry import trace

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == ScopeType.HTTP:
            span = trace.get_current_span()
            route = scope.get("path_template")
            if route and span.is_recording():
                span.update_name(f"{scope.get('method', '')} {route}")
                span.set_attribute("http.route", str(route))
        await app(scope, receive, send)

    return middleware


def instrument_databases(databases: Databases, provider: Any) -> None:
    """A span per SQL statement on every engine of ``databases`` (once per engine)."""
    if provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    engines = [databases.control, *databases.regions.values()]
    fresh = [e.sync_engine for e in engines if id(e.sync_engine) not in _instrumented]
    if fresh:
        SQLAlchemyInstrumentor().instrument(
            engines=fresh,
            tracer_provider=provider,
            enable_commenter=False,
            # 2.1 is newer than the range the instrumentation declares; its engine events are
            # unchanged (the tracing test proves the spans come).
            skip_dep_check=True,
        )
        _instrumented.update(id(e) for e in fresh)
