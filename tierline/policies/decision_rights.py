"""The "decision rights" table: which role may do what, for the generated documentation page.

Pure data in, rows out; the page (and anyone auditing the defaults) reads the same role policy
the engine is built from, so the documentation cannot drift from what is enforced.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from .default_policy import DEFAULT_POLICY
from .permissions import PERMISSIONS, lookup


class DecisionRight(NamedTuple):
    """One row: ``role`` may use ``permission``, which means ``description``."""

    role: str
    permission: str
    description: str


def decision_rights(
    role_policy: Mapping[str, AbstractSet[str]] = DEFAULT_POLICY,
) -> list[DecisionRight]:
    """Rows ordered by role (policy order), then permission (catalogue order).

    ValueError if the policy names a permission the catalogue does not have.
    """
    order = {name: position for position, name in enumerate(PERMISSIONS)}
    return [
        DecisionRight(role, name, lookup(name).description)
        for role, permissions in role_policy.items()
        for name in sorted(permissions, key=lambda p: order.get(p, len(order)))
    ]
