"""The permission catalogue: every ``object:action`` a route or a page may ask for.

A permission is *scope-bound* unless marked ``tenant_wide``: the caller asks for it in a
business scope (``emea``, ``bu_chem`` or ``*``) and a role held in that scope, or in ``*``,
grants it. Tenant-wide permissions guard things that have no scope (user accounts, keys, SSO,
machine clients, the audit log); the engine always decides them in scope ``*``, so a regional
admin cannot rotate the tenant's keys however the guard phrases the question.

``PUBLIC`` is not a permission: it marks a route that needs no sign-in, and the engine refuses
to decide it (a public route must skip the check, not pass it by accident).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# Same value as tierline.platform.access.PUBLIC (a test keeps the two in step); defined here
# too so this package stays free of HTTP imports.
PUBLIC: Final = "public"

_PART = re.compile(r"[a-z][a-z_]{0,39}")


@dataclass(frozen=True, slots=True)
class Permission:
    """One catalogue entry."""

    name: str
    description: str
    tenant_wide: bool = False
    for_customers: bool = False  # used by a B2B customer in the portal, not by staff

    @property
    def object(self) -> str:
        return split_permission(self.name)[0]

    @property
    def action(self) -> str:
        return split_permission(self.name)[1]


def split_permission(permission: str) -> tuple[str, str]:
    """``"margin:read"`` -> ``("margin", "read")``; ValueError if not ``object:action``."""
    obj, sep, act = permission.partition(":")
    if not sep or not _PART.fullmatch(obj) or not _PART.fullmatch(act):
        raise ValueError(
            f"permission {permission!r} is not 'object:action' (lowercase letters and '_')"
        )
    return obj, act


_CATALOGUE: Final = (
    Permission("tenant:view", "Open the tenant's staff workspace: home, scopes, own profile"),
    Permission("users:manage", "Create, deactivate and reset staff and portal users", True),
    Permission("roles:manage", "Grant and revoke roles in the scope checked"),
    Permission("audit:read", "Read the audit log and verify its hash chain", True),
    Permission("audit:export", "Export the audit log for external auditors", True),
    Permission("margin:read", "See margin, cost and revenue values unmasked"),
    Permission("masterdata:read", "View customers, products, locations, suppliers, orders"),
    Permission("masterdata:write", "Edit master data records and golden-record merges"),
    Permission("imports:run", "Run data imports from ERP files and feeds"),
    Permission("segments:read", "View segment assignments, their history and runs"),
    Permission("schemes:write", "Create and edit segmentation schemes, rules and tiers"),
    Permission("segments:run", "Start classification runs and scheduled rebalancing"),
    Permission("overrides:request", "Request a manual override of a segment assignment"),
    Permission("overrides:approve", "Approve or reject overrides that move one tier"),
    Permission(
        "overrides:approve_major",
        "Approve or reject overrides that jump more than one tier (governance board)",
    ),
    Permission("entitlements:read", "View the service entitlements attached to segments"),
    Permission("entitlements:write", "Edit service entitlements and SLAs per segment"),
    Permission("inventory:read", "View inventory policies, policy runs, results, calculator"),
    Permission("inventory:write", "Edit and publish inventory policy documents"),
    Permission("inventory:run", "Start inventory policy runs"),
    Permission("inventory:approve", "Approve policy runs whose changes exceed the threshold"),
    Permission("portal:invite", "Invite a customer's users to the B2B portal"),
    Permission("jobs:read", "See background jobs and their progress"),
    Permission("keys:rotate", "Rotate the tenant's field-encryption keys", True),
    Permission("clients:manage", "Register and revoke machine clients (ERP, 3PL)", True),
    Permission("sso:manage", "Configure single sign-on (OIDC) for the tenant", True),
    Permission("dataquality:read", "View data-quality findings and scores"),
    Permission("steward:resolve", "Resolve data-quality issues and golden-record conflicts"),
    Permission("kpi:read", "View service performance: KPIs, attainment, drill-down and alerts"),
    Permission("kpi:manage", "Acknowledge and resolve KPI alerts and change KPI definitions"),
    Permission(
        "analytics:read",
        "View commercial analytics (cost-to-serve, cohorts, reclassification impact); money "
        "figures stay masked without margin:read",
    ),
    Permission(
        "analytics:write",
        "Choose the cost-to-serve drivers and record service surcharges and discounts",
    ),
    Permission(
        "portal:self", "Use the B2B portal for one's own customer account", for_customers=True
    ),
)


def _index(catalogue: tuple[Permission, ...]) -> Mapping[str, Permission]:
    index: dict[str, Permission] = {}
    for entry in catalogue:
        split_permission(entry.name)  # a malformed name fails at import, not at request time
        if entry.name in index:
            raise ValueError(f"permission {entry.name!r} is declared twice")
        index[entry.name] = entry
    return MappingProxyType(index)


PERMISSIONS: Final[Mapping[str, Permission]] = _index(_CATALOGUE)
"""Every permission by name, in catalogue order."""

STAFF_PERMISSIONS: Final = frozenset(p.name for p in _CATALOGUE if not p.for_customers)


def lookup(permission: str) -> Permission:
    """The catalogue entry for ``permission``; a clear ValueError for anything else."""
    entry = PERMISSIONS.get(permission)
    if entry is not None:
        return entry
    if permission == PUBLIC:
        raise ValueError("PUBLIC is not a permission: a public route skips the check")
    raise ValueError(
        f"unknown permission {permission!r}: declare it in tierline.policies.permissions"
    )
