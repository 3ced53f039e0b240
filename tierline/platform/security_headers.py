"""Security headers on every response: no inline script, no framing, no sniffing."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PRIVATE_PREFIXES = ("/t/", "/portal/", "/api/")
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """The headers every response gets, built once; ``apply`` adds those a response lacks.

    ``hsts`` only when served over TLS (a plain-HTTP HSTS header is ignored by browsers and
    would mislead)."""

    def __init__(self, hsts: bool) -> None:
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
        self.fixed = tuple(fixed)
        self._names = frozenset(name for name, _ in fixed) | {b"cache-control"}

    def apply(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Add the security headers (and ``no-store`` on private pages) to ``headers``, in
        place, keeping any the response set itself."""
        present = {name.lower() for name, _ in headers}
        if present.isdisjoint(self._names):  # the usual case: nothing to keep
            headers.extend(self.fixed)
            if path.startswith(PRIVATE_PREFIXES):
                headers.append(_NO_STORE)
            return
        headers.extend((k, v) for k, v in self.fixed if k not in present)
        if path.startswith(PRIVATE_PREFIXES) and b"cache-control" not in present:
            headers.append(_NO_STORE)


def security_headers(app: ASGIApp, hsts: bool) -> ASGIApp:
    """Wrap ``app`` so every HTTP response carries the security headers. (The app factory
    applies them in its request-context middleware instead, one layer fewer per request.)"""
    policy = SecurityHeaders(hsts)

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                policy.apply(scope.get("path", ""), headers)
                message["headers"] = headers  # type: ignore[typeddict-unknown-key]
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
