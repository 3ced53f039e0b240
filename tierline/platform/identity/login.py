"""Signing in and out: password checks, lockout, throttling, session rotation, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.identity import throttle
from tierline.platform.identity.models import User
from tierline.platform.identity.passwords import hash_password, needs_rehash, verify_password
from tierline.platform.identity.users import find_by_email

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IP_LIMIT, IP_WINDOW = 30, 15 * 60
GENERIC_FAILURE = (
    "E-mail or password is incorrect, or the account is locked for 15 minutes after "
    "5 failed attempts."
)


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    error: str | None = None
    status: int = 200


def _ip_key(tenant_slug: str, client_ip: str) -> str:
    return f"login-ip:{tenant_slug}:{client_ip}"


async def check_ip(redis: Any, tenant_slug: str, client_ip: str) -> throttle.Verdict:
    """Whether the address may try to sign in: refused once it has ``IP_LIMIT`` failed sign-ins
    in the window. Successful sign-ins never count (an office behind one address signing in
    at nine must not lock itself out)."""
    return await throttle.check(redis, _ip_key(tenant_slug, client_ip), IP_LIMIT)


async def count_failure(redis: Any, tenant_slug: str, client_ip: str) -> None:
    """Count one failed sign-in against the address."""
    await throttle.hit(redis, _ip_key(tenant_slug, client_ip), IP_LIMIT, IP_WINDOW)


async def _fail(
    session: AsyncSession, user: User | None, email: str, reason: str, ip: str, rid: str | None
) -> None:
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = utcnow() + LOCKOUT
            user.failed_logins = 0
            reason = f"{reason}; account locked for {int(LOCKOUT.total_seconds() // 60)} minutes"
    await record(
        session,
        actor=email[:320] or "(blank)",
        actor_kind="anonymous",
        action="auth.login_failed",
        object_type="user",
        object_id=str(user.id) if user else None,
        reason=reason,
        request_id=rid,
        client_ip=ip,
    )


async def authenticate(
    session: AsyncSession, email: str, password: str, client_ip: str, request_id: str | None
) -> LoginOutcome:
    """Check a password sign-in; failures are counted, locked out and audited."""
    user = await find_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        # Answered exactly like an unknown account or a wrong password: a different status or
        # message would tell a caller which e-mail addresses have accounts.
        await _fail(session, None, email, "account temporarily locked", client_ip, request_id)
        return LoginOutcome(None, GENERIC_FAILURE, 401)
    if user is None or not ok:
        await _fail(session, user, email, "wrong e-mail or password", client_ip, request_id)
        return LoginOutcome(None, GENERIC_FAILURE, 401)
    if user.status != "active":
        await _fail(session, None, email, f"account {user.status}", client_ip, request_id)
        return LoginOutcome(None, GENERIC_FAILURE, 401)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await record_login(session, user, "password", client_ip, request_id)
    return LoginOutcome(user)


async def record_login(
    session: AsyncSession, user: User, method: str, client_ip: str, request_id: str | None
) -> None:
    await record(
        session,
        actor=user.email,
        actor_kind="user",
        action="auth.login",
        object_type="user",
        object_id=str(user.id),
        after={"method": method},
        request_id=request_id,
        client_ip=client_ip,
    )
