"""Decision rights: who may request overrides, approve one-tier moves or approve major moves,
in which scopes, from the role policy (``tierline.policies.decision_rights``) and the tenant's
actual grants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.checks import APPROVE, APPROVE_MAJOR, REQUEST
from tierline.platform.identity.models import RoleGrant, User
from tierline.policies import DEFAULT_POLICY, ROLES, decision_rights

GOVERNANCE_PERMISSIONS = (REQUEST, APPROVE, APPROVE_MAJOR)
RIGHT_LABELS = {
    REQUEST: "request overrides",
    APPROVE: "approve one-tier moves",
    APPROVE_MAJOR: "approve major moves (more than one tier) and contract conflicts",
}


async def grants_with_rights(session: AsyncSession) -> list[dict[str, Any]]:
    """Active staff holding a governance permission: e-mail, role, scope, what it allows."""
    rows = await session.execute(
        select(User.email, RoleGrant.role, RoleGrant.scope)
        .join(User, User.id == RoleGrant.user_id)
        .where(User.status == "active", User.kind == "staff")
        .order_by(User.email, RoleGrant.role, RoleGrant.scope)
    )
    people = []
    for email, role, scope in rows.all():
        held = DEFAULT_POLICY.get(str(role), frozenset())
        rights = [RIGHT_LABELS[p] for p in GOVERNANCE_PERMISSIONS if p in held]
        if rights:
            people.append(
                {
                    "email": str(email),
                    "role": str(role),
                    "role_name": ROLES[str(role)].display_name if str(role) in ROLES else role,
                    "scope": str(scope),
                    "rights": rights,
                }
            )
    return people


def rights_matrix() -> list[dict[str, Any]]:
    """Per role: which governance permissions it grants (from the role policy)."""
    rows = [r for r in decision_rights() if r.permission in GOVERNANCE_PERMISSIONS]
    roles: dict[str, set[str]] = {}
    for row in rows:
        roles.setdefault(row.role, set()).add(row.permission)
    return [
        {
            "role": role,
            "role_name": ROLES[role].display_name if role in ROLES else role,
            "held": {p: p in roles.get(role, set()) for p in GOVERNANCE_PERMISSIONS},
        }
        for role in DEFAULT_POLICY
        if role in roles
    ]
