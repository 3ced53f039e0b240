"""The staff navigation: each domain registers its pages with the permission they need, and a
user sees only the entries their roles allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # below /t/{tenant}/
    permission: str
    description: str = ""
    order: int = 100


_ITEMS: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    _ITEMS[item.path] = item


def nav_items(principal: Any) -> list[dict[str, str]]:
    """Entries the principal may open, in menu order, as template-ready dicts."""
    if principal is None:
        return []
    held: frozenset[str] = getattr(principal, "permissions", frozenset())
    slug = principal.tenant.slug
    return [
        {"label": i.label, "href": f"/t/{slug}/{i.path}", "description": i.description}
        for i in sorted(_ITEMS.values(), key=lambda i: (i.order, i.label))
        if i.permission in held
    ]
