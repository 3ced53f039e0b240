"""The default roles and what each may do.

Every tenant starts with these roles; a grant gives one to a user in one scope (``*`` or a
region / business unit). ``x`` = granted, ``.`` = not (a test keeps this table equal to
``ROLES`` below).

ADM admin, PLN planner, DST data_steward, APR approver, ACM account_manager, ANA analyst,
AUD auditor, CUS customer::

    permission                ADM PLN DST APR ACM ANA AUD CUS
    tenant:view                x   x   x   x   x   x   x   .
    users:manage               x   .   .   .   .   .   .   .
    roles:manage               x   .   .   .   .   .   .   .
    audit:read                 x   .   .   .   .   .   x   .
    audit:export               x   .   .   .   .   .   x   .
    margin:read                x   x   .   x   x   .   .   .
    masterdata:read            x   x   x   x   x   x   x   .
    masterdata:write           x   .   x   .   .   .   .   .
    imports:run                x   .   x   .   .   .   .   .
    segments:read              x   x   x   x   x   x   x   .
    schemes:write              x   x   .   .   .   .   .   .
    segments:run               x   x   .   .   .   .   .   .
    overrides:request          x   x   .   .   x   .   .   .
    overrides:approve          x   x   .   x   .   .   .   .
    overrides:approve_major    x   .   .   x   .   .   .   .
    entitlements:read          x   x   .   x   x   x   x   .
    entitlements:write         x   x   .   .   .   .   .   .
    inventory:read             x   x   .   x   .   x   x   .
    inventory:write            x   x   .   .   .   .   .   .
    inventory:run              x   x   .   .   .   .   .   .
    inventory:approve          x   .   .   x   .   .   .   .
    portal:invite              x   .   .   .   x   .   .   .
    jobs:read                  x   x   x   .   .   x   x   .
    keys:rotate                x   .   .   .   .   .   .   .
    clients:manage             x   .   .   .   .   .   .   .
    sso:manage                 x   .   .   .   .   .   .   .
    dataquality:read           x   x   x   .   .   x   x   .
    steward:resolve            x   .   x   .   .   .   .   .
    kpi:read                   x   x   x   x   x   x   x   .
    kpi:manage                 x   x   .   .   .   .   .   .
    analytics:read             x   x   .   x   x   x   .   .
    analytics:write            x   x   .   .   .   .   .   .
    portal:self                .   .   .   .   .   .   .   x

Why these choices:

- **Requesting and approving are split.** Planners and account managers request overrides;
  account managers never approve (a customer's own salesperson is the classic conflict of
  interest). Planners may approve one-tier moves of *other people's* requests (the override
  workflow refuses requester == approver); jumps of more than one tier go to the governance
  board (``approver``), which requests nothing itself.
- **Margin is need-to-know.** Those who decide on profitability see it unmasked: planners
  (margin is a segmentation driver), the board, account managers (tier vs. price talks).
  Analysts, data stewards and auditors work with masked values; aggregations over margin run
  server-side, so their dashboards still show segment profitability without row values.
- **Stewards own the data, not the outcome.** Data stewards import, edit and reconcile master
  data but cannot edit schemes, run classifications or touch overrides.
- **Auditors read, and export the audit trail**, nothing else; analysts are read-only without
  margin or the audit log.
- **Admins hold every staff permission** so a small tenant can start with one person. Keys,
  SSO, machine clients, user accounts and the audit log are tenant-wide (decided in scope
  ``*``), so an admin granted in ``emea`` only manages grants and data inside ``emea``.
- **Inventory policy is planned and approved apart.** Planners write policies and run them;
  a run whose changes exceed the policy's threshold waits for the board (``approver``),
  who cannot write policies themselves. Analysts and auditors read the results.
- **Customers** get ``portal:self`` only; *which* customer account they see is bound by their
  portal user record, never by a role scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .grants import check_role_name
from .permissions import PERMISSIONS, STAFF_PERMISSIONS


@dataclass(frozen=True, slots=True)
class Role:
    """A default role: its key, what the UI calls it, and what it may do."""

    name: str
    display_name: str
    description: str
    permissions: frozenset[str]


_READ_ONLY: Final = frozenset(
    {
        "tenant:view",
        "masterdata:read",
        "segments:read",
        "entitlements:read",
        "jobs:read",
        "kpi:read",
    }
)

_ROLES: Final = (
    Role(
        "admin",
        "Administrator",
        "Runs the tenant: users, roles, keys, SSO, machine clients; every staff permission.",
        STAFF_PERMISSIONS,
    ),
    Role(
        "planner",
        "Supply-chain planner",
        "Designs schemes, runs classifications, maintains entitlements, requests overrides.",
        _READ_ONLY
        | {
            "margin:read",
            "schemes:write",
            "segments:run",
            "overrides:request",
            "overrides:approve",
            "entitlements:write",
            "dataquality:read",
            "kpi:manage",
            "inventory:read",
            "inventory:write",
            "inventory:run",
            "analytics:read",
            "analytics:write",
        },
    ),
    Role(
        "data_steward",
        "Data steward",
        "Owns master data quality: imports, edits, golden records, data-quality issues.",
        (_READ_ONLY - {"entitlements:read"})
        | {"masterdata:write", "imports:run", "dataquality:read", "steward:resolve"},
    ),
    Role(
        "approver",
        "Governance board member",
        "Reviews segment overrides and exceptions, including jumps of more than one tier.",
        (_READ_ONLY - {"jobs:read"})
        | {
            "margin:read",
            "overrides:approve",
            "overrides:approve_major",
            "inventory:read",
            "inventory:approve",
            "analytics:read",
        },
    ),
    Role(
        "account_manager",
        "Account manager",
        "Looks after customer accounts: requests overrides, invites customers to the portal.",
        (_READ_ONLY - {"jobs:read"})
        | {"margin:read", "overrides:request", "portal:invite", "analytics:read"},
    ),
    Role(
        "analyst",
        "Analyst",
        "Read-only access to segments, entitlements and data quality; margin stays masked.",
        _READ_ONLY | {"dataquality:read", "inventory:read", "analytics:read"},
    ),
    Role(
        "auditor",
        "Auditor",
        "Read-only access plus the audit log and its export, for SOX / GDPR reviews.",
        _READ_ONLY | {"dataquality:read", "audit:read", "audit:export", "inventory:read"},
    ),
    Role(
        "customer",
        "Customer (portal)",
        "A B2B customer's user: sees their own segment and entitlements in the portal.",
        frozenset({"portal:self"}),
    ),
)


def _index(roles: tuple[Role, ...]) -> Mapping[str, Role]:
    index: dict[str, Role] = {}
    for role in roles:
        check_role_name(role.name)
        unknown = role.permissions - PERMISSIONS.keys()
        if unknown:  # a typo here must fail at import, not deny silently at request time
            raise ValueError(f"role {role.name!r} names unknown permissions {sorted(unknown)}")
        index[role.name] = role
    return MappingProxyType(index)


ROLES: Final[Mapping[str, Role]] = _index(_ROLES)
"""The default roles by key, in display order."""

DEFAULT_POLICY: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {role.name: role.permissions for role in _ROLES}
)
"""Role key -> the permissions it grants: what every new tenant's engine is built from."""
