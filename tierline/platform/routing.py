"""The three route surfaces, one ``Router`` base each: staff pages, the JSON API, the portal.

A surface carries what every handler on it shares — the path prefix, the tenant and principal
dependencies (with the same-tenant check inside them), and whether the OpenAPI document shows
it — so a handler states only its own path, permission and logic::

    @get("/segments/entitlements", guards=[requires(READ)], operation_id="entitlementsPage")
    async def entitlements_page(principal: Principal) -> Template: ...

    ROUTES = [StaffPages(entitlements_page), Api(api_entitlements)]

Every surface offers two dependencies:

- ``principal``: the signed-in caller (set by the permission guard). On the tenant surfaces it
  must belong to the tenant named in the path, else 404 (no existence oracle); the guard refuses
  that already, the dependency checks again so a handler is safe on its own.
- ``current_tenant`` (tenant surfaces): the tenant named in the path, for pages open before
  sign-in (login, invitations, the portal's style sheet); unknown or inactive tenants are 404,
  and a caller signed in to another tenant is 404 too.

The API has no tenant in its path: its ``current_tenant`` is the credential's own tenant, read
again from the directory (a tenant suspended since the token was issued is 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request, Router
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import provide_principal
from tierline.platform.observability import bind_tenant
from tierline.platform.tenancy import TenantNotFound, TenantRef

STAFF_PREFIX = "/t/{tenant:str}"
PORTAL_PREFIX = "/portal/{tenant:str}"
API_PREFIX = "/api/v1"


async def provide_current_tenant(
    tenant: FromPath[str], request: Request[Any, Any, Any]
) -> TenantRef:
    """The active tenant named in the path; 404 when there is none or the caller belongs to
    another tenant."""
    try:
        ref: TenantRef = await request.app.state.tenants.get(tenant)
    except TenantNotFound:
        raise NotFoundException() from None
    principal: Principal | None = request.scope["state"].get("principal")
    if principal is not None and principal.tenant.id != ref.id:
        raise NotFoundException()
    bind_tenant(ref.slug)
    return ref


async def provide_credential_tenant(request: Request[Any, Any, Any]) -> TenantRef:
    """The API caller's own tenant, read again from the directory, so a tenant suspended or
    re-created since the credential was issued is 404."""
    principal = await provide_principal(request)
    try:
        ref: TenantRef = await request.app.state.tenants.get(principal.tenant.slug)
    except TenantNotFound:
        raise NotFoundException() from None
    if ref.id != principal.tenant.id:
        raise NotFoundException()
    bind_tenant(ref.slug)
    return ref


async def provide_tenant_principal(request: Request[Any, Any, Any]) -> Principal:
    """The signed-in caller, who must belong to the tenant named in the path (else 404)."""
    principal = await provide_principal(request)
    if principal.tenant.slug != request.path_params.get("tenant"):
        raise NotFoundException()
    bind_tenant(principal.tenant.slug)
    return principal


_TENANT_SURFACE = {
    "principal": Provide(provide_tenant_principal),
    "current_tenant": Provide(provide_current_tenant),
}
_API_SURFACE = {
    "principal": Provide(provide_principal),
    "current_tenant": Provide(provide_credential_tenant),
}


class Surface(Router):
    """A route surface; ``merge_surfaces`` joins the instances every module declares into one
    router per surface (two routers serving one path would each add an ``OPTIONS`` handler)."""

    def __init__(self, *route_handlers: ControllerRouterHandler, **options: Any) -> None:
        self.declared = list(route_handlers)
        self.options = options
        super().__init__(**self._router_arguments(self.declared, options))

    @classmethod
    def _router_arguments(
        cls, route_handlers: list[ControllerRouterHandler], options: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError


def merge_surfaces(route_handlers: Sequence[Any]) -> list[Any]:
    """One router per surface (and options) holding every handler declared for it; anything
    else is passed through unchanged."""
    merged: dict[tuple[type[Surface], str], list[ControllerRouterHandler]] = {}
    options: dict[tuple[type[Surface], str], dict[str, Any]] = {}
    others: list[Any] = []
    for item in route_handlers:
        if isinstance(item, Surface):
            key = (type(item), repr(sorted(item.options.items())))
            merged.setdefault(key, []).extend(item.declared)
            options[key] = item.options
        else:
            others.append(item)
    return [*others, *(kind(*merged[(kind, o)], **options[(kind, o)]) for kind, o in merged)]


def declared_handlers(route_handlers: Sequence[Any]) -> list[Any]:
    """The handlers a module's ``ROUTES`` declares, surfaces opened up (for tests and tools)."""
    found: list[Any] = []
    for item in route_handlers:
        found.extend(item.declared if isinstance(item, Surface) else [item])
    return found


def declared_paths(route_handlers: Sequence[Any]) -> list[tuple[str, Any]]:
    """``(full path, handler)`` for every path of every handler a module's ``ROUTES`` declares
    (the surface's prefix joined to the handler's own path)."""
    found: list[tuple[str, Any]] = []
    for item in route_handlers:
        prefix = item.path if isinstance(item, Surface) else ""
        for handler in item.declared if isinstance(item, Surface) else [item]:
            for path in getattr(handler, "paths", ()):
                found.append(((prefix + path).rstrip("/") or "/", handler))
    return found


class StaffPages(Surface):
    """Staff pages under ``/t/{tenant}``: server-rendered, kept out of the OpenAPI document."""

    @classmethod
    def _router_arguments(
        cls, route_handlers: list[ControllerRouterHandler], options: dict[str, Any]
    ) -> dict[str, Any]:
        return dict(
            path=STAFF_PREFIX,
            route_handlers=route_handlers,
            dependencies=_TENANT_SURFACE,
            include_in_schema=False,
            **options,
        )


class PortalPages(Surface):
    """B2B portal pages under ``/portal/{tenant}``, kept out of the OpenAPI document."""

    @classmethod
    def _router_arguments(
        cls, route_handlers: list[ControllerRouterHandler], options: dict[str, Any]
    ) -> dict[str, Any]:
        return dict(
            path=PORTAL_PREFIX,
            route_handlers=route_handlers,
            dependencies=_TENANT_SURFACE,
            include_in_schema=False,
            **options,
        )


class Api(Surface):
    """The JSON API under ``/api/v1``, documented in the OpenAPI document."""

    @classmethod
    def _router_arguments(
        cls, route_handlers: list[ControllerRouterHandler], options: dict[str, Any]
    ) -> dict[str, Any]:
        return dict(
            path=API_PREFIX,
            route_handlers=route_handlers,
            dependencies=_API_SURFACE,
            **options,
        )
