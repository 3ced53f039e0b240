"""Structured logs: one line per request carrying its request id and tenant."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tierline.platform.client_address import Network, client_address
from tierline.platform.metrics import observe_request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

access_log = structlog.get_logger("tierline.access")
_access_stdlib = logging.getLogger("tierline.access")


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route stdlib and structlog output through one renderer (console or JSON lines)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "arq.worker", "arq.jobs", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING")


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


def bind_tenant(slug: str) -> None:
    structlog.contextvars.bind_contextvars(tenant=slug)


def request_context_middleware(
    app: ASGIApp,
    response_headers: Callable[[str, list[tuple[bytes, bytes]]], None] | None = None,
    trusted_proxies: Sequence[Network] = (),
) -> ASGIApp:
    """Give every request an id (kept from ``X-Request-ID`` when well-formed), its real client
    address (``client_address``: forwarded headers count only from ``trusted_proxies``), and
    log it.

    ``response_headers(path, headers)`` may add to every response's headers in place (the app
    factory passes the security headers here, so they cost no middleware layer of their own).
    The access line is built only when the ``tierline.access`` logger would emit it.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = ""
        forwarded_for: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
        peer = scope.get("client")
        if trusted_proxies and forwarded_for is not None and peer:
            scope["client"] = (client_address(peer[0], forwarded_for, trusted_proxies), peer[1])
        if not _REQUEST_ID.match(request_id):
            request_id = os.urandom(16).hex()
        # Set (not merely cleared) for this request and put back afterwards: an in-process
        # caller (tests, an embedding app) sees its own context again, and nothing of this
        # request's (its tenant) leaks into the next.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id, tenant=Ellipsis)
        started = time.perf_counter()
        status = 500
        id_header = (b"x-request-id", request_id.encode())
        path = scope.get("path", "")

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or ())
                headers.append(id_header)
                if response_headers is not None:
                    response_headers(path, headers)
                message["headers"] = headers  # type: ignore[typeddict-unknown-key]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "(unrouted)"
            observe_request(str(scope.get("method")), str(route), status, elapsed)
            if _access_enabled():
                access_log.info(
                    "request",
                    method=scope.get("method"),
                    client=(scope.get("client") or ("-",))[0],
                    path=path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.reset_contextvars(**tokens)

    return middleware


def _access_enabled() -> bool:
    return _access_stdlib.isEnabledFor(logging.INFO)
