"""The forgot-password pages, built for a surface: staff pages mount them under ``/t/{tenant}``
with identity's templates, the portal under ``/portal/{tenant}`` with its own branded ones.

Four public routes each: the form asking for a link, its post, the form behind the link, and
its post. Every form carries a CSRF cookie pair like the sign-in form.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import select

from tierline.platform.access import PUBLIC, requires
from tierline.platform.db import utcnow
from tierline.platform.identity import password_reset as resets
from tierline.platform.identity.models import PasswordReset
from tierline.platform.identity.signin import login_form
from tierline.platform.identity.users import UserError
from tierline.platform.identity.web import client_ip, session_store
from tierline.platform.observability import current_request_id
from tierline.platform.tenancy import TenantRef, tenant_session

RESET_CSRF_COOKIE = "tl_reset_csrf"

# Extra template context of the surface (the portal's branding), read for each page.
Context = Callable[[TenantRef], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ResetSurface:
    """How one surface shows the pages: its URL prefix (``/t`` or ``/portal``), templates,
    context and the operation-id prefix that keeps the two sets apart."""

    prefix: str
    forgot_template: str
    reset_template: str
    context: Context
    operation_prefix: str = ""

    def base(self, tenant: TenantRef) -> str:
        return f"{self.prefix}/{tenant.slug}/"

    def op(self, name: str) -> str:
        if not self.operation_prefix:
            return name
        return self.operation_prefix + name[0].upper() + name[1:]


def _check_csrf(request: Request[Any, Any, Any], form: Any) -> None:
    cookie = request.cookies.get(RESET_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, str(form.get("_csrf", ""))):
        raise PermissionDeniedException("the form expired; reload the page and try again")


async def _link_is_open(tenant: TenantRef, token: str) -> bool:
    async with tenant_session(tenant) as s:
        row = (
            await s.execute(
                select(PasswordReset).where(PasswordReset.token_hash == resets.token_digest(token))
            )
        ).scalar_one_or_none()
    return row is not None and row.used_at is None and row.expires_at > utcnow()


def reset_handlers(surface: ResetSurface) -> list[Any]:
    """The four handlers of ``surface`` (paths relative to the surface's tenant prefix)."""

    async def page(
        tenant: TenantRef, template: str, status: int = 200, **values: Any
    ) -> Response[Any]:
        context = {"tenant": tenant, "principal": None, **await surface.context(tenant), **values}
        return login_form(template, context, status, surface.base(tenant), RESET_CSRF_COOKIE)

    @get(
        "/password/forgot", guards=[requires(PUBLIC)], operation_id=surface.op("forgotPasswordPage")
    )
    async def forgot_page(current_tenant: NamedDependency[TenantRef]) -> Response[Any]:
        """Ask for a link to choose a new password."""
        return await page(current_tenant, surface.forgot_template, sent=None, error=None)

    @post(
        "/password/forgot",
        guards=[requires(PUBLIC)],
        operation_id=surface.op("requestPasswordReset"),
    )
    async def request_link(
        current_tenant: NamedDependency[TenantRef], request: Request[Any, Any, Any], state: State
    ) -> Response[Any]:
        form = await request.form()
        _check_csrf(request, form)
        email = str(form.get("email", ""))[:320]
        async with tenant_session(current_tenant) as s:
            outcome = await resets.request_reset(
                s,
                await state.runtime.redis(),
                current_tenant,
                email,
                state.settings.base_url,
                client_ip(request),
                current_request_id(),
            )
        if outcome.retry_after is not None:
            response = await page(
                current_tenant,
                surface.forgot_template,
                429,
                sent=None,
                error="Too many requests from your network. Wait a few minutes and try again.",
            )
            response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        return await page(current_tenant, surface.forgot_template, sent=resets.SENT, error=None)

    @get(
        "/password/reset/{token:str}",
        guards=[requires(PUBLIC)],
        operation_id=surface.op("resetPasswordPage"),
    )
    async def reset_page(
        current_tenant: NamedDependency[TenantRef], token: FromPath[str]
    ) -> Response[Any]:
        if not await _link_is_open(current_tenant, token):
            return await page(
                current_tenant,
                surface.reset_template,
                410,
                errors=[resets.INVALID_LINK],
                usable=False,
            )
        return await page(current_tenant, surface.reset_template, errors=[], usable=True)

    @post(
        "/password/reset/{token:str}",
        guards=[requires(PUBLIC)],
        operation_id=surface.op("resetPassword"),
    )
    async def reset(
        current_tenant: NamedDependency[TenantRef],
        token: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
    ) -> Response[Any]:
        form = await request.form()
        _check_csrf(request, form)
        new, repeat = str(form.get("new", ""))[:1024], str(form.get("repeat", ""))[:1024]
        if new != repeat:
            return await page(
                current_tenant,
                surface.reset_template,
                422,
                errors=["the two passwords differ"],
                usable=True,
            )
        try:
            async with tenant_session(current_tenant) as s:
                user = await resets.complete_reset(
                    s, token, new, client_ip(request), current_request_id()
                )
                user_id = str(user.id)
        except UserError as exc:
            usable = str(exc) != resets.INVALID_LINK
            status = 422 if usable else 410
            return await page(
                current_tenant, surface.reset_template, status, errors=[str(exc)], usable=usable
            )
        store = await session_store(state.runtime)
        await store.end_all_for(current_tenant.slug, user_id)
        return Redirect(f"{surface.base(current_tenant)}login?reset=1", status_code=303)  # type: ignore[return-value]

    return [forgot_page, request_link, reset_page, reset]
