"""The staff navigation: each package declares its pages (with the permission they need and the
menu group they belong to) in its plugin, and a user sees only the entries their roles allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Menu groups in display order; a group holding one page shows as a plain link.
GROUPS = ("Workspace", "Data", "Segments", "Service", "Inventory", "Portal", "Administration")


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # below /t/{tenant}/
    permission: str
    description: str = ""
    order: int = 100
    group: str = "Administration"


_ITEMS: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    if item.group not in GROUPS:
        raise ValueError(f"menu group '{item.group}' is not one of {GROUPS}")
    _ITEMS[item.path] = item


def nav_items(principal: Any) -> list[dict[str, str]]:
    """Entries the principal may open, in menu order, as template-ready dicts."""
    if principal is None:
        return []
    held: frozenset[str] = getattr(principal, "permissions", frozenset())
    slug = principal.tenant.slug
    return [
        {
            "label": i.label,
            "href": f"/t/{slug}/{i.path}",
            "description": i.description,
            "group": i.group,
        }
        for i in sorted(_ITEMS.values(), key=lambda i: (GROUPS.index(i.group), i.order, i.label))
        if i.permission in held
    ]


def nav_groups(principal: Any) -> list[dict[str, Any]]:
    """The principal's entries by menu group, in order: ``{"label", "items"}`` each."""
    groups: dict[str, list[dict[str, str]]] = {}
    for item in nav_items(principal):
        groups.setdefault(item["group"], []).append(item)
    return [{"label": name, "items": groups[name]} for name in GROUPS if name in groups]
