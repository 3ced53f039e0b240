"""Route permissions. Every route declares one through ``requires(...)`` (a test enforces it).

``PUBLIC`` routes need no credential; ``OPERATOR`` routes belong to the platform operator
(tenant provisioning) and take the operator bearer token; every other permission is an
``object:action`` checked against the caller's roles in the tenant (``tierline.policies``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

PUBLIC = "public"
OPERATOR = "operator"
METRICS = "metrics"  # the metrics scraper: TIERLINE_METRICS_TOKEN, else the operator token

# Routes Litestar adds itself (the OpenAPI document) are public and declared here by prefix.
PUBLIC_PREFIXES = ("/schema",)

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]
PermissionCheck = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler, str], Any]

_checks: dict[str, PermissionCheck] = {}


def register_permission_check(kind: str, check: PermissionCheck) -> None:
    """Let the identity layer plug in how ``object:action`` permissions are decided."""
    _checks[kind] = check


def get_permission_check(kind: str) -> PermissionCheck | None:
    return _checks.get(kind)


def _operator_check(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler, key: str = "operator_token"
) -> None:
    expected = connection.app.state.get(key)
    header = connection.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.strip().encode(), str(expected).encode())
    ):
        raise NotAuthorizedException("operator credentials required")


def requires(permission: str) -> Guard:
    """A guard that declares (and, past ``PUBLIC``, enforces) ``permission``."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if permission == PUBLIC:
            return
        if permission == OPERATOR:
            _operator_check(connection, handler)
            return
        if permission == METRICS:
            _operator_check(connection, handler, "metrics_token")
            return
        check = _checks.get("tenant")
        if check is None:
            raise NotAuthorizedException("sign-in is required")
        result = check(connection, handler, permission)
        if hasattr(result, "__await__"):
            await result

    guard.permission = permission  # type: ignore[attr-defined]
    guard.__name__ = f"requires_{permission.replace(':', '_')}"
    return guard


def declared_permission(handler: BaseRouteHandler) -> str | None:
    """The permission a route handler declares, looking through its whole ownership chain."""
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or []:
            permission = getattr(guard, "permission", None)
            if permission:
                return str(permission)
    return None
