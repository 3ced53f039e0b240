"""Portal users as account managers see them: invite a customer user for an account in their
scope, list them, revoke access. Built on identity's users (``create_user(..., invite=True)``
issues the expiring invitation link; ``set_status`` disables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import CustomerRef, customer_directory, find_customer
from tierline.platform.identity import users as user_service
from tierline.platform.identity.models import User
from tierline.platform.identity.users import CUSTOMER_ROLE, Actor, NewUser


class PortalUserError(user_service.UserError):
    pass


@dataclass(frozen=True)
class PortalUser:
    id: str
    email: str
    customer_code: str
    customer_name: str
    status: str
    invitation_expires_at: datetime | None
    last_login_at: datetime | None


def _in_scope(scope: str, scopes: frozenset[str] | None) -> bool:
    return scopes is None or scope in scopes


async def list_portal_users(
    session: AsyncSession, scopes: frozenset[str] | None, limit: int = 500
) -> list[PortalUser]:
    """Customer users of accounts inside ``scopes`` (None: every scope)."""
    customers = customer_directory(scopes)
    query = (
        select(User, customers.c.name)
        .join(customers, customers.c.code == User.customer_code)
        .where(User.kind == "customer")
        .order_by(User.customer_code, User.email)
        .limit(limit)
    )
    rows = await session.execute(query)
    return [
        PortalUser(
            str(u.id),
            u.email,
            u.customer_code or "",
            name,
            u.status,
            u.invitation_expires_at,
            u.last_login_at,
        )
        for u, name in rows.all()
    ]


async def _customer_in_scope(
    session: AsyncSession, code: str, scopes: frozenset[str] | None
) -> CustomerRef:
    customer = await find_customer(session, code.strip())
    if customer is None or not _in_scope(customer.scope, scopes):
        # the same message either way: no oracle for accounts outside the inviter's scope
        raise PortalUserError(f"no customer account {code.strip()!r} in your scope")
    return customer


async def invite_portal_user(
    session: AsyncSession,
    *,
    email: str,
    customer_code: str,
    scopes: frozenset[str] | None,
    actor: Actor,
) -> NewUser:
    customer = await _customer_in_scope(session, customer_code, scopes)
    return await user_service.create_user(
        session,
        email=email,
        role=CUSTOMER_ROLE,
        actor=actor,
        kind="customer",
        customer_code=customer.code,
        invite=True,
    )


async def revoke_portal_user(
    session: AsyncSession, user_id: str, scopes: frozenset[str] | None, actor: Actor
) -> User:
    """Disable a portal user (an unused invitation stops working too); the caller ends its
    sessions."""
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        raise PortalUserError("no such portal user") from None
    user = await session.get(User, key)
    if user is None or user.kind != "customer" or not user.customer_code:
        raise PortalUserError("no such portal user")
    await _customer_in_scope(session, user.customer_code, scopes)
    return await user_service.set_status(
        session, user.id, "disabled", actor, "portal access revoked"
    )
