"""Which customer accounts a portal user may see: its own account and every account whose
parent chain reaches it (a sold-to sees its ship-tos), read from master data's account
hierarchy in one statement.

Everything the portal shows is filtered through :func:`reachable_accounts`; an account outside
that set is answered with 404 (no existence oracle), never 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import account_tree

MAX_ACCOUNTS = 5000  # a pathological hierarchy never turns one page into an unbounded scan


@dataclass(frozen=True)
class PortalAccount:
    code: str
    name: str
    account_type: str
    parent_code: str | None
    depth: int  # 0 = the user's own account


async def reachable_accounts(session: AsyncSession, root_code: str | None) -> list[PortalAccount]:
    """The user's own account first, then the accounts below it by depth and code."""
    if not root_code:
        return []
    nodes = await account_tree(session, root_code, limit=MAX_ACCOUNTS)
    return [PortalAccount(n.code, n.name, n.account_type, n.parent_code, n.depth) for n in nodes]


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
