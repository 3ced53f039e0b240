"""Role grants as plain data, and the identifier rules that keep Casbin rows unambiguous.

Subjects, roles and scopes share Casbin's rows, so their alphabets are kept disjoint and free
of separators: a user id is a lowercase UUID or ``client:<uuid>`` (it always contains ``-``),
a role name is ``[a-z][a-z0-9_]*`` (never ``-``), a scope is ``[a-z0-9_]{1,40}`` or ``*``. No
id can be mistaken for a role, and no scope can contain a ``,`` or ``::`` that would split
differently in a policy line or a cache key (the upstream "separator collision" pitfall).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ALL_SCOPES: Final = "*"
"""The scope meaning "every scope of the tenant": a grant here applies everywhere."""

_SCOPE = re.compile(r"[a-z0-9_]{1,40}")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SUBJECT = re.compile(rf"(?:client:)?{_UUID}")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def check_scope(scope: str) -> str:
    """Return ``scope`` if it is ``*`` or ``[a-z0-9_]{1,40}``, else raise ValueError."""
    # fullmatch, not match + "$": "$" would accept a trailing newline.
    if scope == ALL_SCOPES or (isinstance(scope, str) and _SCOPE.fullmatch(scope)):
        return scope
    raise ValueError(f"scope {scope!r} must be '*' or 1-40 of [a-z0-9_]")


def check_subject(user_id: str) -> str:
    """Return ``user_id`` if it is a lowercase UUID or ``client:<uuid>``, else ValueError.

    Upper case is refused rather than folded: a grant stored one way and a session carrying
    the other would otherwise silently never match.
    """
    if isinstance(user_id, str) and _SUBJECT.fullmatch(user_id):
        return user_id
    raise ValueError(f"user id {user_id!r} must be a lowercase UUID or 'client:<uuid>'")


def check_role_name(role: str) -> str:
    """Return ``role`` if it is ``[a-z][a-z0-9_]{0,39}``, else raise ValueError."""
    if isinstance(role, str) and _ROLE.fullmatch(role):
        return role
    raise ValueError(f"role name {role!r} must be [a-z][a-z0-9_]{{0,39}}")


@dataclass(frozen=True, slots=True)
class Grant:
    """``user_id`` holds ``role`` in ``scope``. Ids and scope are validated on creation;
    whether the role exists is checked by the engine that receives the grant."""

    user_id: str
    role: str
    scope: str  # no default: "every scope" must be asked for, never fallen into

    def __post_init__(self) -> None:
        check_subject(self.user_id)
        check_scope(self.scope)
        if not isinstance(self.role, str):
            raise ValueError(f"role {self.role!r} must be a string")
