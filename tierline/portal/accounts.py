"""Which customer accounts a portal user may see: its own account and every account whose
parent chain reaches it (a sold-to sees its ship-tos), computed with one recursive CTE.

Everything the portal shows is filtered through :func:`reachable_accounts`; an account outside
that set is answered with 404 (no existence oracle), never 403.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Select, bindparam, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.models import Customer

MAX_ACCOUNTS = 5000  # a pathological hierarchy never turns one page into an unbounded scan


@dataclass(frozen=True)
class PortalAccount:
    code: str
    name: str
    account_type: str
    parent_code: str | None
    depth: int  # 0 = the user's own account


def subtree_codes(root_code: str) -> Select[tuple[str]]:
    """A SELECT of ``root_code`` and every customer below it (UNION stops on cycles)."""
    tree = (
        select(Customer.code.label("code"))
        .where(Customer.code == root_code)
        .cte("portal_tree", recursive=True)
    )
    tree = tree.union(select(Customer.code).join(tree, Customer.parent_code == tree.c.code))
    return select(tree.c.code)


@functools.cache
def _reach_statement() -> Select[Any]:
    """The reach query, built once (constructing a recursive CTE costs more than running it);
    the root account is bound per call."""
    tree = (
        select(Customer.code.label("code"), literal(0).label("depth"))
        .where(Customer.code == bindparam("root"))
        .cte("portal_reach", recursive=True)
    )
    tree = tree.union(
        select(Customer.code, (tree.c.depth + 1).label("depth"))
        .join(tree, Customer.parent_code == tree.c.code)
        .where(tree.c.depth < 20)
    )
    return (
        select(
            Customer.code,
            Customer.name,
            Customer.account_type,
            Customer.parent_code,
            tree.c.depth,
        )
        .join(tree, tree.c.code == Customer.code)
        .order_by(tree.c.depth, Customer.code)
        .limit(MAX_ACCOUNTS)
    )


async def reachable_accounts(session: AsyncSession, root_code: str | None) -> list[PortalAccount]:
    """The user's own account first, then the accounts below it by depth and code."""
    if not root_code:
        return []
    rows = await session.execute(_reach_statement(), {"root": root_code})
    seen: dict[str, PortalAccount] = {}
    for code, name, kind, parent, depth in rows.all():
        seen.setdefault(code, PortalAccount(code, name, kind, parent, int(depth)))
    return list(seen.values())


def pick_account(accounts: list[PortalAccount], requested: str | None) -> PortalAccount:
    """The requested account if it is in reach (else 404); the user's own one by default."""
    if not accounts:
        raise NotFoundException()
    if not requested:
        return accounts[0]
    for account in accounts:
        if account.code == requested:
            return account
    raise NotFoundException()
