"""Security headers on every response: no inline script, no framing, no sniffing."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def security_headers(app: ASGIApp, hsts: bool) -> ASGIApp:
    """Wrap ``app``; ``hsts`` only when served over TLS (a plain-HTTP HSTS header is ignored
    by browsers and would mislead)."""
    fixed: list[tuple[bytes, bytes]] = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        fixed.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in fixed if k not in present]
                private = scope.get("path", "").startswith(("/t/", "/portal/", "/api/"))
                if private and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers  # type: ignore[typeddict-unknown-key]
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
