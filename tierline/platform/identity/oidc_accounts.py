"""From a provider's verified ID token claims to the Tierline account that signs in.

Turns claims into an ``SsoIdentity`` (verified e-mail, allowed domain for staff, mapped roles),
refuses accounts a flow may not sign in (``AccountRules``: wrong kind, invited, disabled), and
finds the account: staff (``resolve_user``) by subject, by e-mail (then linked) or created just
in time with the mapped roles; customer users (``resolve_customer``, ``accept_invitation``)
never created, found by subject or e-mail or through an open customer invitation. Every change
is audited; every refusal is an ``SsoRefused``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit import record
from tierline.platform.db import utcnow
from tierline.platform.identity.models import OidcProvider, RoleGrant, User
from tierline.platform.identity.oidc_errors import SsoRefused
from tierline.platform.identity.users import (
    STAFF_ROLES,
    Actor,
    UserError,
    complete_invitation,
    find_by_email,
    grant_role,
    normalize_email,
    open_invitation,
)

# ---------------------------------------------------------------------------------------------
# From claims to a user


@dataclass(frozen=True)
class SsoIdentity:
    subject: str  # "issuer|sub": unique across providers
    email: str
    name: str
    roles: tuple[str, ...] = field(default_factory=tuple)


def _claim_values(claims: Mapping[str, Any], path: str | None) -> list[str]:
    """A claim's string values; ``path`` may be dotted (``realm_access.roles``)."""
    value: Any = claims
    for part in (path or "").split("."):
        value = value.get(part) if isinstance(value, Mapping) and part else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def mapped_roles(claims: Mapping[str, Any], provider: OidcProvider) -> tuple[str, ...]:
    mapping = provider.role_mapping or {}
    found = {mapping[v] for v in _claim_values(claims, provider.role_claim) if v in mapping}
    return tuple(role for role in STAFF_ROLES if role in found)


def _verified_email(claims: Mapping[str, Any]) -> str:
    raw = claims.get("email")
    if not isinstance(raw, str) or not raw:
        raise SsoRefused(
            403, "ID token has no e-mail", "Your identity provider did not share your e-mail."
        )
    verified = claims.get("email_verified")
    # Some providers send the string "true"; anything else (absent, false) is unverified.
    if verified is not True and str(verified).lower() != "true":
        raise SsoRefused(
            403,
            "e-mail not verified by the provider",
            "Your e-mail address is not verified at your identity provider.",
            email=raw[:320],
        )
    try:
        return normalize_email(raw)
    except UserError:
        raise SsoRefused(403, "ID token e-mail is not a valid address", email=raw[:320]) from None


def _identity(claims: Mapping[str, Any], provider: OidcProvider, email: str) -> SsoIdentity:
    subject = f"{provider.issuer}|{claims['sub']}"
    if len(subject) > 500:
        raise SsoRefused(401, "ID token subject too long", email=email)
    name = claims.get("name")
    display = name.strip()[:200] if isinstance(name, str) and name.strip() else ""
    return SsoIdentity(subject, email, display or email.split("@", 1)[0])


def identity_from_claims(claims: Mapping[str, Any], provider: OidcProvider) -> SsoIdentity:
    """A staff identity: a verified e-mail in an allowed domain, and the mapped roles."""
    email = _verified_email(claims)
    domain = email.rsplit("@", 1)[1]
    if domain not in (provider.allowed_domains or []):
        raise SsoRefused(
            403,
            f"e-mail domain {domain} not allowed",
            "Accounts from your e-mail domain cannot sign in to this organisation.",
            email=email,
        )
    identity = _identity(claims, provider, email)
    return replace(identity, roles=mapped_roles(claims, provider))


def customer_identity_from_claims(claims: Mapping[str, Any], provider: OidcProvider) -> SsoIdentity:
    """A customer identity: a verified e-mail, any domain (customer users come from their own
    companies; the invitation, not the domain, decides who gets in), and no roles."""
    return _identity(claims, provider, _verified_email(claims))


@dataclass(frozen=True)
class AccountRules:
    """What a flow accepts of an existing account, and where it sends the others."""

    kind: str  # the only account kind this flow signs in
    wrong_kind_reason: str  # for the audit log
    wrong_kind_message: str  # for the person
    elsewhere: tuple[str, str]  # (URL, label) of the sign-in that account kind uses
    contact: str  # whom to ask when the account is not active


def _refuse_unusable(user: User, rules: AccountRules) -> None:
    email, user_id = user.email, str(user.id)
    if user.kind != rules.kind:
        raise SsoRefused(
            403,
            rules.wrong_kind_reason,
            rules.wrong_kind_message,
            email=email,
            user_id=user_id,
            link=rules.elsewhere,
        )
    if user.status == "invited":
        raise SsoRefused(
            403,
            "invitation not accepted yet",
            "Your account is not active yet. Open the invitation link you were sent to "
            "activate it.",
            email=email,
            user_id=user_id,
        )
    if user.status != "active":
        # Only the administrator's lock counts: the password-failure lockout (locked_until)
        # guards the password, which single sign-on does not use.
        raise SsoRefused(
            403,
            f"account {user.status}",
            f"Your Tierline account is {user.status}. Contact {rules.contact}.",
            email=email,
            user_id=user_id,
        )
    if user.kind == "customer" and not user.customer_code:
        raise SsoRefused(
            403,
            "customer user without a customer account",
            f"Your portal account is not set up. Contact {rules.contact}.",
            email=email,
            user_id=user_id,
        )


async def _by_subject(session: AsyncSession, subject: str) -> User | None:
    rows = await session.execute(select(User).where(User.sso_subject == subject))
    return rows.scalar_one_or_none()


async def _link(
    session: AsyncSession, user: User, identity: SsoIdentity, issuer: str, actor: Actor
) -> None:
    """Link an existing account to the provider identity with the same verified e-mail (the
    caller has checked that the account may use this flow: a disabled one must not gain a
    link)."""
    previous = user.sso_subject
    if previous is not None and previous.startswith(issuer + "|"):
        # Same provider, other subject: the address moved to someone else there. Refuse.
        raise SsoRefused(
            403,
            "e-mail already linked to another identity at this provider",
            "This e-mail is linked to another account at your identity provider. "
            "Contact your administrator.",
            email=user.email,
            user_id=str(user.id),
        )
    user.sso_subject = identity.subject
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="users.sso_linked",
        object_type="user",
        object_id=str(user.id),
        before={"sso_subject": previous},
        after={"sso_subject": identity.subject},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )


async def _create(
    session: AsyncSession, identity: SsoIdentity, roles: Iterable[str], actor: Actor
) -> User:
    """Just-in-time account: active, no password (it signs in through the provider only)."""
    user = User(
        id=uuid.uuid4(),
        email=identity.email,
        display_name=identity.name,
        kind="staff",
        status="active",
        password_hash=None,
        must_change_password=False,
        sso_subject=identity.subject,
        failed_logins=0,
        last_login_at=utcnow(),
    )
    session.add(user)
    await session.flush()  # the grants' foreign key needs the user row first
    granted = list(roles)
    for role in granted:
        session.add(RoleGrant(user_id=user.id, role=role, scope="*", granted_by=actor.name))
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="users.create",
        object_type="user",
        object_id=str(user.id),
        after={"email": user.email, "kind": "staff", "roles": granted, "method": "sso"},
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return user


async def _create_new(
    session: AsyncSession, provider: OidcProvider, identity: SsoIdentity, actor: Actor
) -> User:
    roles = identity.roles or ((provider.default_role,) if provider.default_role else ())
    if not roles:
        raise SsoRefused(
            403,
            "no role mapped from the provider's claims and no default role",
            "Your account has no Tierline role yet. Ask your administrator to give you access.",
            email=identity.email,
        )
    return await _create(session, identity, roles, actor)


async def resolve_user(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    actor: Actor,
    rules: AccountRules,
) -> User:
    """Staff: linked by subject, else linked by e-mail, else created; claim roles granted."""
    user = await _by_subject(session, identity.subject)
    if user is None:
        user = await find_by_email(session, identity.email)
        if user is None:
            user = await _create_new(session, provider, identity, actor)
        else:
            _refuse_unusable(user, rules)  # before linking
            await _link(session, user, identity, provider.issuer, actor)
    _refuse_unusable(user, rules)
    # Roles the claim maps to are added when missing; grants made by hand are left alone.
    for role in identity.roles:
        await grant_role(session, user.id, role, "*", actor)
    user.last_login_at = utcnow()
    return user


def _no_portal_account(email: str) -> SsoRefused:
    return SsoRefused(
        403,
        "no customer user with this e-mail",
        f"There is no customer portal account for {email}. Ask your account manager for an "
        "invitation.",
        email=email,
    )


async def resolve_customer(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    actor: Actor,
    rules: AccountRules,
) -> User:
    """Portal: linked by subject, else an existing customer user linked by its verified
    e-mail. Never created: a customer user exists only through an invitation."""
    user = await _by_subject(session, identity.subject)
    if user is None:
        user = await find_by_email(session, identity.email)
        if user is None:
            raise _no_portal_account(identity.email)
        _refuse_unusable(user, rules)  # before linking
        await _link(session, user, identity, provider.issuer, actor)
    _refuse_unusable(user, rules)
    user.last_login_at = utcnow()
    return user


async def open_customer_invitation(session: AsyncSession, digest: str) -> User:
    """The invited customer user for an invitation digest; SsoRefused when the invitation is
    unknown, used, expired, revoked or for a staff account."""
    try:
        user = await open_invitation(session, digest)
    except UserError as exc:
        message = str(exc)
        raise SsoRefused(
            410, f"invitation refused: {message}", message[:1].upper() + message[1:] + "."
        ) from None
    if user.kind != "customer":
        raise SsoRefused(
            403,
            "staff invitation cannot be accepted through the customer portal",
            "This invitation is for a staff account: choose a password on the invitation page.",
            user_id=str(user.id),
        )
    return user


async def accept_invitation(
    session: AsyncSession,
    provider: OidcProvider,
    identity: SsoIdentity,
    digest: str,
    actor: Actor,
) -> User:
    """Accept a customer invitation with the provider identity: its verified e-mail must be
    the invited one; the account is linked and activated as the password acceptance does."""
    user = await open_customer_invitation(session, digest)
    if identity.email != user.email:
        raise SsoRefused(
            403,
            "provider e-mail differs from the invited e-mail",
            f"You signed in at {provider.name} as {identity.email}, but this invitation was "
            "sent to another address. Sign in there with the invited address, or choose a "
            "password on the invitation page.",
            email=identity.email,
            user_id=str(user.id),
        )
    holder = await _by_subject(session, identity.subject)
    if holder is not None and holder.id != user.id:
        raise SsoRefused(
            409,
            "provider identity already linked to another account",
            f"Your {provider.name} identity already belongs to another Tierline account. "
            "Contact your account manager.",
            email=identity.email,
            user_id=str(user.id),
        )
    if user.sso_subject != identity.subject:
        await _link(session, user, identity, provider.issuer, actor)
    person = Actor(user.email, "user", actor.request_id, actor.client_ip)
    await complete_invitation(session, user, person, {"method": "sso"})
    user.last_login_at = utcnow()
    return user
