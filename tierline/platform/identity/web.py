"""The request side of identity: who is calling, may they, and CSRF.

Registered as the permission check behind every ``requires("object:action")`` guard:

1. a bearer token (machine client) or the session cookie (browser) names the principal;
2. a principal of tenant A asking for tenant B's pages gets 404 (no existence oracle), and a
   portal (customer) session never reaches staff pages (404 too);
3. nobody signed in: pages redirect to the tenant's sign-in page, the API answers 401;
4. state-changing requests on a cookie session must carry the session's CSRF token (form field
   ``_csrf`` or header ``X-CSRF-Token``), else 403 and nothing changes;
5. the permission is decided by the tenant's Casbin policy at its current version (read on
   every request, so grant changes apply in every process at once) or, for a machine client,
   by its granted scopes.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import Row, Select, bindparam, select

from tierline.platform.access import register_permission_check
from tierline.platform.identity.models import AuthzState, RoleGrant, User
from tierline.platform.identity.principal import Principal, PrincipalKind
from tierline.platform.identity.redirects import (
    WHILE_PASSWORD_PENDING,
    LoginRequired,
    PasswordChangeRequired,
)
from tierline.platform.identity.session_cache import STATE_KEY as SESSION_CACHE
from tierline.platform.identity.sessions import SESSION_COOKIE, BrowserSession, SessionStore
from tierline.platform.identity.users import Actor
from tierline.platform.observability import current_request_id
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_connection
from tierline.policies import Grant, PolicyCache, PolicyEngine

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
PORTAL_PERMISSIONS = {"portal:self"}

_policies = PolicyCache()


async def session_store(runtime: Runtime) -> SessionStore:
    return SessionStore(await runtime.redis())


async def _tenant(connection: ASGIConnection[Any, Any, Any, Any], slug: str) -> TenantRef:
    try:
        ref: TenantRef = await connection.app.state.tenants.get(slug)
    except TenantNotFound:
        raise NotFoundException() from None
    return ref


@functools.cache
def _user_and_version() -> Select[Any]:
    """What a session request needs of its user, with the policy version in the same round trip
    (built once; the user id is bound per request)."""
    version_now = select(AuthzState.policy_version).scalar_subquery()
    return select(
        User.id,
        User.kind,
        User.email,
        User.status,
        User.customer_code,
        User.must_change_password,
        version_now,
    ).where(User.id == bindparam("user_id"))


async def _load_policy(
    tenant: TenantRef, user_id: uuid.UUID
) -> tuple[Row[Any] | None, PolicyEngine | None]:
    """The user's row and the tenant's policy engine at its current version (one transaction,
    one round trip for both; no engine when the user does not exist). Core rows only, so a
    plain tenant connection serves: no ORM session to set up and tear down per request."""
    async with tenant_connection(tenant) as s:
        row = (await s.execute(_user_and_version(), {"user_id": user_id})).one_or_none()
        if row is None:
            return None, None
        user, version = row, row[-1]

        async def grants() -> list[Grant]:
            rows = await s.execute(
                select(RoleGrant.user_id, RoleGrant.role, RoleGrant.scope)
                .join(User, User.id == RoleGrant.user_id)
                .where(User.status == "active")
            )
            return [Grant(str(u), r, sc) for u, r, sc in rows]

        engine = await _engine_at(str(tenant.id), version, grants)
    return user, engine


_building: dict[tuple[str, int], asyncio.Future[PolicyEngine]] = {}


async def _engine_at(
    tenant_id: str, version: int, grants: Callable[[], Awaitable[list[Grant]]]
) -> PolicyEngine:
    """The tenant's policy engine at ``version``, built at most once at a time per tenant and
    version: requests that need it meanwhile wait for that build (same version, same grants)
    instead of each building a copy (a cold start or a grant change would otherwise build it
    once per request in flight, and every copy would stay alive in the caches holding it)."""
    key = (tenant_id, version)
    pending = _building.get(key)
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not pending.cancelled() or (task is not None and task.cancelling()):
                raise
        # The build was abandoned (its request failed or went away): build here instead.
    future: asyncio.Future[PolicyEngine] = asyncio.get_running_loop().create_future()
    _building[key] = future
    try:
        engine = await _policies.aget(tenant_id, version, grants)
    except BaseException:
        future.cancel()
        raise
    finally:
        if _building.get(key) is future:
            del _building[key]
    future.set_result(engine)
    return engine


class PrincipalCache(Protocol):
    """An optional cache of what a customer (portal) user's requests derive from its user row
    and the tenant's policy, put in the app state under ``PRINCIPAL_CACHE`` by a domain that
    keeps it exact (the portal's cache, dropped on every committed change to the tenant's users
    and grants)."""

    def lookup_principal(self, tenant: TenantRef, user_id: str) -> Any | None: ...

    def principal_token(self, tenant: TenantRef) -> Any | None: ...

    def store_principal(self, tenant: TenantRef, user_id: str, token: Any, value: Any) -> None: ...


PRINCIPAL_CACHE = "principal_cache"


class _Access:
    """What a signed-in user's requests derive from its user row and its tenant's policy
    engine: the permissions held in any scope, the last permission decision (a route asks for
    one) and the principal of its last session. Cached for portal users, so their requests do
    no policy work; kept to a handful of objects per user (plain strings, a shared permission
    set), since the garbage collector walks every cached object on each full pass."""

    __slots__ = (
        "customer_code",
        "decided",
        "display",
        "engine",
        "held",
        "kind",
        "last",
        "must_change",
        "subject",
    )

    def __init__(self, user: Row[Any], engine: PolicyEngine) -> None:
        self.engine = engine
        self.subject = str(user.id)
        self.kind: PrincipalKind = user.kind
        self.display: str = user.email
        self.customer_code: str | None = user.customer_code
        self.must_change: bool = bool(user.must_change_password)
        held: set[str] = set()
        for grant in engine.roles_of(self.subject):
            held |= engine.permissions_of(self.subject, grant.scope)
        self.held = _shared_permissions(frozenset(held))
        self.decided: tuple[str, bool] | None = None
        self.last: Principal | None = None

    def allows(self, permission: str) -> bool:
        decided = self.decided
        if decided is not None and decided[0] == permission:
            return decided[1]
        allowed = bool(self.engine.scopes_for(self.subject, permission))
        self.decided = (permission, allowed)
        return allowed

    def principal(self, tenant: TenantRef, session: BrowserSession) -> Principal:
        """The principal of ``session`` (built once while the user keeps using that session)."""
        found = self.last
        # The tenant directory hands out a fresh (equal) ref every few seconds: compare values.
        if (
            found is not None
            and found.session_id == session.id
            and found.csrf_token == session.csrf
            and (found.tenant is tenant or found.tenant == tenant)
        ):
            return found
        found = self.last = Principal(
            tenant=tenant,
            subject=self.subject,
            kind=self.kind,
            display=self.display,
            customer_code=self.customer_code,
            session_id=session.id,
            csrf_token=session.csrf,
            permissions=self.held,
        )
        return found


_permission_sets: dict[frozenset[str], frozenset[str]] = {}


def _shared_permissions(held: frozenset[str]) -> frozenset[str]:
    """One object per distinct set of permissions (users of one role hold the same set)."""
    if len(_permission_sets) > 1024:
        _permission_sets.clear()
    return _permission_sets.setdefault(held, held)


async def _user_access(
    connection: ASGIConnection[Any, Any, Any, Any], tenant: TenantRef, user_id: str
) -> _Access | None:
    """The active user's access in ``tenant``, None when the user is unknown or not active."""
    cache: PrincipalCache | None = connection.app.state.get(PRINCIPAL_CACHE)
    if cache is not None:
        hit = cache.lookup_principal(tenant, user_id)
        if isinstance(hit, _Access):
            return hit
    token = cache.principal_token(tenant) if cache is not None else None  # before reading
    user, engine = await _load_policy(tenant, uuid.UUID(user_id))
    if user is None or engine is None or user.status != "active":
        return None
    access = _Access(user, engine)
    # Customer users only: staff sessions read their user and policy on every request.
    if cache is not None and access.kind == "customer":
        cache.store_principal(tenant, user_id, token, access)
    return access


async def principal_from_session(
    connection: ASGIConnection[Any, Any, Any, Any], session: BrowserSession
) -> tuple[Principal, PolicyEngine] | None:
    found = await _session_principal(connection, session)
    return (found[0], found[1].engine) if found else None


async def _session_principal(
    connection: ASGIConnection[Any, Any, Any, Any], session: BrowserSession
) -> tuple[Principal, _Access] | None:
    try:
        tenant = await connection.app.state.tenants.get(session.tenant)
        access = await _user_access(connection, tenant, session.user_id)
    except (TenantNotFound, ValueError):
        return None
    if access is None:
        return None
    return access.principal(tenant, session), access


async def _bearer_principal(
    connection: ASGIConnection[Any, Any, Any, Any], token: str
) -> Principal:
    from tierline.platform.identity.tokens import InvalidToken, principal_from_bearer

    try:
        principal: Principal = await principal_from_bearer(token, connection.app.state)
        return principal
    except InvalidToken as exc:
        raise NotAuthorizedException(
            "invalid or expired access token",
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc}"'
            },
        ) from None


async def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any], expected: str) -> None:
    supplied = connection.headers.get(CSRF_HEADER)
    if supplied is None and isinstance(connection, Request):
        content_type = connection.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            supplied = (await connection.form()).get(CSRF_FIELD)
    if not supplied or not hmac.compare_digest(str(supplied).encode(), expected.encode()):
        raise PermissionDeniedException("the form expired or did not come from Tierline; reload it")


def _wants_redirect(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return not connection.url.path.startswith("/api/")


async def check_permission(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, permission: str
) -> None:
    path_slug = connection.path_params.get("tenant")
    if path_slug is not None:
        await _tenant(connection, path_slug)  # unknown tenant: 404 before anything else
    authorization = connection.headers.get("authorization", "")
    access: _Access | None = None
    if authorization[:7].lower() == "bearer ":
        principal = await _bearer_principal(connection, authorization[7:].strip())
    else:
        state = connection.app.state
        store = await session_store(state.runtime)
        session = await store.get(connection.cookies.get(SESSION_COOKIE), state.get(SESSION_CACHE))
        found = await _session_principal(connection, session) if session else None
        if found is None:
            raise LoginRequired(path_slug, connection.url.path)
        principal, access = found
    if path_slug is not None and principal.tenant.slug != path_slug:
        raise NotFoundException()
    is_portal = permission in PORTAL_PERMISSIONS
    if (principal.kind == "customer") != is_portal and not principal.is_client:
        raise NotFoundException()
    if principal.session_id and connection.scope.get("method") in UNSAFE_METHODS:
        await _check_csrf(connection, principal.csrf_token or "")
    if principal.is_client:
        if permission not in principal.client_scopes:
            raise PermissionDeniedException(f"your role does not allow this ({permission})")
        principal = replace(principal, permissions=principal.client_scopes)
    elif access is None or not access.allows(permission):
        raise PermissionDeniedException(f"your role does not allow this ({permission})")
    elif access.must_change and not handler.opt.get(WHILE_PASSWORD_PENDING):
        # Enforced here, not by the page after sign-in: a one-time password opens nothing else.
        raise PasswordChangeRequired(principal.tenant.slug, is_portal)
    # ``request.state`` is a view of this dict (Litestar puts it in every scope).
    request_state = connection.scope["state"]
    request_state["principal"] = principal
    request_state["policy"] = access.engine if access is not None else None


def _allowed(principal: Principal, engine: PolicyEngine | None, permission: str) -> bool:
    if principal.is_client:
        return permission in principal.client_scopes
    if engine is None:
        return False
    return bool(engine.scopes_for(principal.subject, permission))


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal | None = request.scope["state"].get("principal")
    if principal is None:
        raise NotAuthorizedException("sign-in is required")
    return principal


def allowed_here(request: Request[Any, Any, Any], permission: str) -> bool:
    """Whether the signed-in principal holds ``permission`` (e.g. to show a menu entry)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return False
    return _allowed(principal, getattr(request.state, "policy", None), permission)


def ensure_same_tenant(principal: Principal, tenant: TenantRef | str) -> None:
    """404 unless ``tenant`` (a ref or a slug from the path) is the principal's own tenant.

    The permission check already refuses this; handlers repeat it so each page stays safe on
    its own (defence in depth)."""
    if isinstance(tenant, TenantRef):
        same = principal.tenant.id == tenant.id
    else:
        same = principal.tenant.slug == tenant
    if not same:
        raise NotFoundException()


def scopes_with(
    request: Request[Any, Any, Any], principal: Principal, permission: str
) -> frozenset[str] | None:
    """The business scopes in which the caller holds ``permission``; None means all of them
    (a ``*`` grant, or a machine client, whose grant is tenant-wide)."""
    if principal.is_client:
        return None
    policy: PolicyEngine | None = getattr(request.state, "policy", None)
    if policy is None:
        return frozenset()
    scopes = policy.scopes_for(principal.subject, permission)
    return None if "*" in scopes else frozenset(scopes)


# The dependency map every signed-in route declares (``principal: NamedDependency[Principal]``).
SIGNED_IN = {"principal": Provide(provide_principal)}


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def actor_of(request: Request[Any, Any, Any], principal: Principal) -> Actor:
    """The principal as the audit log names it, with this request's id and address."""
    return Actor(principal.display, principal.actor_kind, current_request_id(), client_ip(request))


def install() -> None:
    register_permission_check("tenant", check_permission)
