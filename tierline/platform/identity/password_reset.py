"""Forgotten passwords: a reset link by e-mail, usable once for half an hour.

Asking for a link answers the same whether or not the address has an account (no enumeration);
the link goes out through the e-mail outbox in the same transaction that stores its token's
SHA-256, so a crash leaves neither a mail without a token nor a token without a mail. Requests
are throttled per client address (429) and, silently, per e-mail address (a flood of links to
one person's inbox). Using a link sets the new password, ends every session of the user, lifts
a lockout, spends every other open link of the user, and is audited like the request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.identity import throttle
from tierline.platform.identity.models import PasswordReset, User
from tierline.platform.identity.passwords import hash_password, password_problems
from tierline.platform.identity.users import UserError, find_by_email
from tierline.platform.notifications.service import queue_email
from tierline.platform.tenancy import TenantRef

LINK_LIFETIME = timedelta(minutes=30)
IP_LIMIT, IP_WINDOW = 10, 15 * 60
EMAIL_LIMIT, EMAIL_WINDOW = 3, 60 * 60
SENT = (
    "If an account exists for that e-mail address, we have sent it a link to choose a new "
    "password. The link works once, for 30 minutes."
)
INVALID_LINK = "This link is not valid any more (it was used, it expired, or a newer one was sent)."


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_path(tenant: TenantRef, user_kind: str, token: str) -> str:
    """Where the link leads: the portal's page for customer users, the staff page otherwise."""
    surface = "portal" if user_kind == "customer" else "t"
    return f"/{surface}/{tenant.slug}/password/reset/{token}"


@dataclass(frozen=True)
class ResetRequest:
    """The outcome of asking for a link: throttled (``retry_after`` seconds) or accepted."""

    retry_after: int | None = None


async def ip_verdict(redis: Any, tenant: TenantRef, client_ip: str) -> throttle.Verdict:
    """Count one request from the address (every request counts: it costs a mail)."""
    return await throttle.hit(redis, f"pwreset-ip:{tenant.slug}:{client_ip}", IP_LIMIT, IP_WINDOW)


async def request_reset(
    session: AsyncSession,
    redis: Any,
    tenant: TenantRef,
    email: str,
    base_url: str,
    client_ip: str,
    request_id: str | None,
) -> ResetRequest:
    """Ask for a reset link for ``email``; the answer never tells whether it has an account."""
    verdict = await ip_verdict(redis, tenant, client_ip)
    if not verdict.allowed:
        return ResetRequest(retry_after=verdict.retry_after)
    user = await find_by_email(session, email)
    reason = _refusal(user)
    if user is not None and reason is None:
        key = f"pwreset-email:{tenant.slug}:{token_digest(user.email)}"
        if not (await throttle.hit(redis, key, EMAIL_LIMIT, EMAIL_WINDOW)).allowed:
            reason = "too many links asked for this address"
    await record(
        session,
        actor=email[:320] or "(blank)",
        actor_kind="anonymous",
        action="auth.password_reset_requested",
        object_type="user",
        object_id=str(user.id) if user else None,
        reason=reason,
        request_id=request_id,
        client_ip=client_ip,
    )
    if user is None or reason is not None:
        return ResetRequest()
    await _spend_open_links(session, user)
    token = secrets.token_urlsafe(32)
    row = PasswordReset(
        user_id=user.id,
        token_hash=token_digest(token),
        expires_at=utcnow() + LINK_LIFETIME,
        requested_ip=client_ip,
    )
    session.add(row)
    await session.flush()
    link = base_url.rstrip("/") + reset_path(tenant, user.kind, token)
    await queue_email(
        session,
        to=user.email,
        subject=f"Choose a new password for {tenant.name}",
        body=(
            f"Someone (we hope you) asked to reset the password of {user.email} at "
            f"{tenant.name}.\n\nChoose a new password here (the link works once, for 30 "
            f"minutes):\n{link}\n\nIf you did not ask for this, ignore this e-mail: your "
            "password stays as it is."
        ),
        dedupe_key=f"password_reset:{row.id}",
    )
    return ResetRequest()


def _refusal(user: User | None) -> str | None:
    """Why no link is sent to an existing user (recorded in the audit log, never shown)."""
    if user is None:
        return "no such account"
    if user.status != "active":  # invited, or locked or disabled by an admin: not by mail
        return f"account {user.status}"
    return None


async def _spend_open_links(session: AsyncSession, user: User) -> None:
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )


async def open_link(session: AsyncSession, token: str) -> tuple[PasswordReset, User]:
    """The link's row and its user, locked until the caller's transaction ends (of two uses at
    once the second finds it spent); ``UserError`` when it cannot be used."""
    row = (
        await session.execute(
            select(PasswordReset)
            .where(PasswordReset.token_hash == token_digest(token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise UserError(INVALID_LINK)
    user = await session.get(User, row.user_id, with_for_update=True)
    if user is None or user.status != "active":
        raise UserError(INVALID_LINK)
    return row, user


async def complete_reset(
    session: AsyncSession,
    token: str,
    password: str,
    client_ip: str,
    request_id: str | None,
) -> User:
    """Set the new password through the link; the link and every other open one are spent."""
    row, user = await open_link(session, token)
    if problems := password_problems(password, user.email):
        raise UserError("password refused: " + "; ".join(problems))
    user.password_hash = hash_password(password)
    user.must_change_password = False
    user.failed_logins, user.locked_until = 0, None
    row.used_at = utcnow()
    await _spend_open_links(session, user)
    await record(
        session,
        actor=user.email,
        actor_kind="user",
        action="auth.password_reset",
        object_type="user",
        object_id=str(user.id),
        request_id=request_id,
        client_ip=client_ip,
    )
    return user
