"""Users of a tenant: creating, inviting, granting roles, locking and disabling. All audited."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import RoleGrant, User
from tierline.platform.identity.passwords import hash_password, password_problems
from tierline.policies.grants import check_scope

INVITATION_DAYS = 7
STAFF_ROLES = (
    "admin",
    "planner",
    "data_steward",
    "approver",
    "account_manager",
    "analyst",
    "auditor",
)
CUSTOMER_ROLE = "customer"


class UserError(DomainError):
    status_code = 422
    title = "Invalid user"


class UserNotFound(DomainError):
    status_code = 404
    title = "Not Found"


@dataclass(frozen=True)
class Actor:
    """Who performs a change, as the audit log names it."""

    name: str
    kind: str = "user"
    request_id: str | None = None
    client_ip: str | None = None


SYSTEM = Actor("system", "system")


def normalize_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise UserError(f"invalid e-mail address {raw!r}: {exc}") from None


def _check_role(role: str, kind: str) -> str:
    allowed = (CUSTOMER_ROLE,) if kind == "customer" else STAFF_ROLES
    if role not in allowed:
        raise UserError(f"unknown role '{role}' for a {kind} user (choose: {', '.join(allowed)})")
    return role


def invitation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewUser:
    user: User
    one_time_password: str | None
    invitation_token: str | None


async def _audit(
    session: AsyncSession, actor: Actor, action: str, user: User, **kw: object
) -> None:
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        object_type="user",
        object_id=str(user.id),
        request_id=actor.request_id,
        client_ip=actor.client_ip,
        **kw,  # type: ignore[arg-type]
    )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    role: str,
    actor: Actor,
    display_name: str | None = None,
    scope: str = "*",
    kind: str = "staff",
    customer_code: str | None = None,
    invite: bool = False,
    password: str | None = None,
) -> NewUser:
    """Create a user with one role. Without ``invite`` it gets a one-time password (or the
    given ``password``) and must change it at first sign-in; with ``invite``, a link."""
    email = normalize_email(email)
    _check_role(role, kind)
    check_scope(scope)
    if kind == "customer" and not customer_code:
        raise UserError("a customer user needs the customer account code it belongs to")
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserError(f"a user with e-mail {email} already exists")
    name = (display_name or email.split("@", 1)[0]).strip()[:200]
    user = User(
        id=uuid.uuid4(),
        email=email,
        display_name=name,
        kind=kind,
        customer_code=customer_code,
        failed_logins=0,
    )
    one_time = token = None
    if invite:
        token = secrets.token_urlsafe(32)
        user.status, user.invitation_hash = "invited", invitation_digest(token)
        user.invitation_expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    else:
        if password is not None and (problems := password_problems(password, email)):
            raise UserError("password refused: " + "; ".join(problems))
        one_time = password or secrets.token_urlsafe(12)
        user.status, user.password_hash = "active", hash_password(one_time)
        user.must_change_password = password is None
    session.add(user)
    await session.flush()  # the grant's foreign key needs the user row first
    session.add(RoleGrant(user_id=user.id, role=role, scope=scope, granted_by=actor.name))
    await session.flush()
    await _audit(
        session,
        actor,
        "users.create",
        user,
        after={"email": email, "kind": kind, "role": role, "scope": scope, "invited": invite},
    )
    return NewUser(user, None if password else one_time, token)


async def get_user(session: AsyncSession, user_id: uuid.UUID | str) -> User:
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise UserNotFound("no such user") from None
    user = await session.get(User, key)
    if user is None:
        raise UserNotFound("no such user")
    return user


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    try:
        normalized = normalize_email(email)
    except UserError:
        return None
    return (
        await session.execute(select(User).where(User.email == normalized))
    ).scalar_one_or_none()


async def list_users(session: AsyncSession) -> list[tuple[User, list[RoleGrant]]]:
    users = list((await session.execute(select(User).order_by(User.email))).scalars())
    grants = list((await session.execute(select(RoleGrant).order_by(RoleGrant.id))).scalars())
    by_user: dict[uuid.UUID, list[RoleGrant]] = {}
    for g in grants:
        by_user.setdefault(g.user_id, []).append(g)
    return [(u, by_user.get(u.id, [])) for u in users]


async def grant_role(
    session: AsyncSession, user_id: uuid.UUID | str, role: str, scope: str, actor: Actor
) -> RoleGrant:
    user = await get_user(session, user_id)
    _check_role(role, user.kind)
    check_scope(scope)
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.scope == scope
        )
    )
    if existing is not None:
        return existing
    grant = RoleGrant(user_id=user.id, role=role, scope=scope, granted_by=actor.name)
    session.add(grant)
    await session.flush()
    await _audit(session, actor, "roles.grant", user, after={"role": role, "scope": scope})
    return grant


async def revoke_role(
    session: AsyncSession, user_id: uuid.UUID | str, role: str, scope: str, actor: Actor
) -> None:
    user = await get_user(session, user_id)
    result = await session.execute(
        delete(RoleGrant).where(
            RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.scope == scope
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise UserError(f"{user.email} does not hold role '{role}' in scope '{scope}'")
    await _audit(session, actor, "roles.revoke", user, before={"role": role, "scope": scope})


async def set_status(
    session: AsyncSession, user_id: uuid.UUID | str, status: str, actor: Actor, reason: str = ""
) -> User:
    """Lock, disable or re-activate a user (sessions are ended by the caller)."""
    if status not in ("active", "locked", "disabled"):
        raise UserError(f"unknown status '{status}'")
    user = await get_user(session, user_id)
    before = user.status
    if before == status:
        return user
    if before == "invited" and status == "active":
        raise UserError("an invited user becomes active by accepting the invitation")
    user.status = status
    if status == "active":
        user.failed_logins, user.locked_until = 0, None
    await session.flush()
    await _audit(
        session,
        actor,
        f"users.{status}",
        user,
        before={"status": before},
        after={"status": status},
        reason=reason or None,
    )
    return user


async def set_password(session: AsyncSession, user: User, password: str, actor: Actor) -> None:
    if problems := password_problems(password, user.email):
        raise UserError("password refused: " + "; ".join(problems))
    user.password_hash = hash_password(password)
    user.must_change_password = False
    await session.flush()
    await _audit(session, actor, "users.password_changed", user)


async def open_invitation(session: AsyncSession, digest: str) -> User:
    """The invited user whose invitation link has this digest (``invitation_digest``), while
    the invitation can still be accepted; UserError when it is unknown, used or expired.
    The row stays locked until the caller's transaction ends, so of two acceptances at once
    the second finds the invitation used."""
    user = (
        await session.execute(select(User).where(User.invitation_hash == digest).with_for_update())
    ).scalar_one_or_none()
    if user is None or user.status != "invited":
        raise UserError("this invitation link is not valid (it may have been used already)")
    if user.invitation_expires_at is None or user.invitation_expires_at < utcnow():
        raise UserError("this invitation link has expired; ask for a new one")
    return user


async def complete_invitation(
    session: AsyncSession,
    user: User,
    actor: Actor | None = None,
    after: dict[str, object] | None = None,
) -> None:
    """Activate an invited user (from ``open_invitation``) and use up its invitation."""
    user.status = "active"
    user.invitation_hash = user.invitation_expires_at = None
    await session.flush()
    await _audit(
        session, actor or Actor(user.email), "users.invitation_accepted", user, after=after
    )


async def accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    user = await open_invitation(session, invitation_digest(token))
    if problems := password_problems(password, user.email):
        raise UserError("password refused: " + "; ".join(problems))
    user.password_hash = hash_password(password)
    await complete_invitation(session, user)
    return user
