"""Notifications over HTTP: the staff page (with mark-read forms) and the JSON API.

A user only ever reads and marks rows addressed to their own e-mail; the tenant is the signed-in
principal's (a principal of tenant A asking for ``/t/B/notifications`` gets 404). Machine
clients have no mailbox: the API refuses them.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException, ValidationException
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect, Template

from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.notifications.schemas import (
    MarkReadIn,
    MarkReadOut,
    NotificationListOut,
    NotificationOut,
)
from tierline.platform.notifications.service import (
    MAX_PAGE,
    NotificationRow,
    list_for,
    mark_read,
    unread_count,
)
from tierline.platform.pagination import PAGED, InvalidCursor, PageRequest, encode_cursor
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import TenantRef, tenant_session

PERMISSION = "tenant:view"


def _mailbox(principal: Principal) -> str:
    if principal.is_client:
        raise PermissionDeniedException("notifications belong to people; a client has none")
    return principal.display.lower()


def _page_url(slug: str, unread_only: bool, before: int | None = None) -> str:
    params = [
        p for p in ("unread=1" if unread_only else "", f"before={before}" if before else "") if p
    ]
    return f"/t/{slug}/notifications" + (f"?{'&'.join(params)}" if params else "")


@get(
    "/notifications",
    guards=[requires(PERMISSION)],
    operation_id="notificationsPage",
)
async def notifications_page(
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    unread: FromQuery[str | None] = None,
    before: FromQuery[int | None] = None,
) -> Template:
    """Unread first, then newest; each unread one can be marked read, or all at once."""
    mailbox = _mailbox(principal)
    unread_only = unread == "1"
    async with tenant_session(current_tenant, state.runtime.databases) as session:
        page = await list_for(session, mailbox, unread_only=unread_only, before_id=before)
        count = await unread_count(session, mailbox)
    slug = current_tenant.slug
    context: dict[str, Any] = {
        "tenant": current_tenant,
        "principal": principal,
        "items": page.items,
        "unread_count": count,
        "unread_only": unread_only,
        "email_configured": bool(state.settings.smtp_url),
        "older_url": _page_url(slug, unread_only, page.next_before_id)
        if page.next_before_id
        else None,
        "first_url": _page_url(slug, unread_only) if before else None,
        "all_url": _page_url(slug, False),
        "unread_url": _page_url(slug, True),
    }
    return Template("notifications/list.html", context=context)


def _form_ids(raw: list[str]) -> list[int]:
    try:
        return [int(v) for v in raw]
    except ValueError:
        raise ValidationException("id: not a notification number") from None


@post(
    "/notifications/read",
    guards=[requires(PERMISSION)],
    operation_id="markNotificationsReadForm",
)
async def mark_read_form(
    request: Request[Any, Any, Any],
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
) -> Redirect:
    """Form post (CSRF checked by the guard): ``id`` (repeatable) or ``all=1``; back to the page."""
    mailbox = _mailbox(principal)
    form = await request.form()
    which: list[int] | Literal["all"] = (
        "all" if form.get("all") == "1" else _form_ids([str(v) for v in form.getall("id", [])])
    )
    async with tenant_session(current_tenant, state.runtime.databases) as session:
        await mark_read(session, mailbox, which)
    back = _page_url(current_tenant.slug, form.get("unread") == "1")
    return Redirect(back, status_code=303)


# ---------------------------------------------------------------------------------------------
# JSON API (the tenant is the credential's, never a parameter)


def _out(row: NotificationRow) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        link=row.link,
        created_at=row.created_at,
        read_at=row.read_at,
        unread=row.unread,
    )


@get(
    "/notifications",
    guards=[requires(PERMISSION)],
    operation_id="listNotifications",
    dependencies=PAGED,
)
async def list_notifications_api(
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    page: PageRequest,
    unread_only: FromQuery[bool] = False,
) -> NotificationListOut:
    """The caller's notifications: unread first, then newest first, with the unread count."""
    tenant = current_tenant
    mailbox = _mailbox(principal)
    position = page.position()
    if position is not None and not isinstance(position[0], int):
        raise InvalidCursor("cursor: not a cursor this API returned")
    async with tenant_session(tenant, state.runtime.databases) as session:
        found = await list_for(
            session,
            mailbox,
            unread_only=unread_only,
            before_id=int(position[0]) if position else None,
            limit=min(page.limit, MAX_PAGE),
        )
        count = await unread_count(session, mailbox)
    following = found.next_before_id
    return NotificationListOut(
        items=[_out(r) for r in found.items],
        unread=count,
        next_cursor=encode_cursor((following,)) if following else None,
    )


@post(
    "/notifications:mark-read",
    guards=[requires(PERMISSION)],
    operation_id="markNotificationsRead",
    status_code=200,
)
async def mark_read_api(
    state: State,
    principal: NamedDependency[Principal],
    current_tenant: NamedDependency[TenantRef],
    data: JSONBody[MarkReadIn],
) -> MarkReadOut:
    """Mark the caller's own notifications read: ``{"ids": [...]}`` or ``{"all": true}``.
    Ids of anyone else's notifications are ignored."""
    tenant = current_tenant
    mailbox = _mailbox(principal)
    if not data.all and not data.ids:
        raise ValidationException('send {"ids": [...]} or {"all": true}')
    if len(data.ids) > 1000:
        raise ValidationException("ids: at most 1000 at a time")
    async with tenant_session(tenant, state.runtime.databases) as session:
        marked = await mark_read(session, mailbox, "all" if data.all else data.ids)
        count = await unread_count(session, mailbox)
    return MarkReadOut(marked=marked, unread=count)


ROUTES = [
    StaffPages(notifications_page, mark_read_form),
    Api(list_notifications_api, mark_read_api),
]
