"""Master data's face to the other domains: what they may ask of customers, the account
hierarchy, order history, feeds, import profiles and imports. Other domains import this module,
never master data's models or its other modules. ``IMPORT_APPLIED`` is the extension point an
upper domain fills to hear of committed imports of order lines.

Where another domain must join master data inside one SQL statement (for speed), this module
publishes the selectable to join (``account_subtree``, ``customer_directory``,
``account_order_lines``) with its columns named here, never the tables behind them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Subquery, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.costing import unit_costs
from tierline.masterdata.importing.entities import LOAD_ORDER
from tierline.masterdata.importing.hooks import IMPORT_APPLIED, ImportApplied, LinesImported
from tierline.masterdata.importing.records import ImportResult
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Customer, Feed, OrderLine
from tierline.masterdata.network.models import CALENDARS, MRP_TYPES
from tierline.masterdata.network.queries import (
    daily_demand,
    erp_parameters,
    latest_positions,
    lead_time_observations,
    location_capacities,
    sourcing_lanes,
    unit_factors,
)
from tierline.masterdata.order_frames import (
    MoneyFrame,
    cost_records_with_money,
    customer_frame,
    latest_order_date,
    order_lines_plain,
    order_lines_with_money,
    product_weights,
    revenue_of_customers,
)
from tierline.masterdata.profiles.definition import Profile, ProfileError
from tierline.masterdata.profiles.presets import presets
from tierline.masterdata.profiles.service import get_profile, list_profiles
from tierline.platform.tenancy import TenantRef, tenant_session

__all__ = [
    "CALENDARS",
    "DIRECTORY_COLUMNS",
    "IMPORT_APPLIED",
    "LOAD_ORDER",
    "MAX_ACCOUNT_DEPTH",
    "MRP_TYPES",
    "AccountNode",
    "CustomerRef",
    "ImportApplied",
    "ImportResult",
    "LinesImported",
    "MoneyFrame",
    "Profile",
    "ProfileError",
    "account_order_lines",
    "account_subtree",
    "account_tree",
    "cost_records_with_money",
    "customer_count",
    "customer_directory",
    "customer_exists",
    "customer_frame",
    "daily_demand",
    "erp_parameters",
    "find_customer",
    "generic_profile",
    "get_profile",
    "latest_order_date",
    "latest_positions",
    "lead_time_observations",
    "list_profiles",
    "location_capacities",
    "order_lines_plain",
    "order_lines_with_money",
    "product_weights",
    "revenue_of_customers",
    "run_import",
    "set_account_manager",
    "sourcing_lanes",
    "stale_order_feeds",
    "unit_costs",
    "unit_factors",
]

MAX_ACCOUNT_DEPTH = 20  # a parent chain deeper than this is a cycle in imported data


# ---------------------------------------------------------------------------------------------
# Customers


@dataclass(frozen=True)
class CustomerRef:
    """A customer (golden record) as other domains see it."""

    code: str
    name: str
    account_type: str
    parent_code: str | None
    scope: str


async def customer_count(tenant: TenantRef) -> int:
    """How many customers the tenant holds."""
    async with tenant_session(tenant) as s:
        return int(await s.scalar(select(func.count()).select_from(Customer)) or 0)


async def set_account_manager(session: AsyncSession, codes: list[str], email: str) -> int:
    """Make ``email`` the account manager of the customers ``codes``; how many changed."""
    result = await session.execute(
        update(Customer)
        .where(Customer.code.in_(codes), Customer.account_manager_email.is_distinct_from(email))
        .values(account_manager_email=email)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def customer_exists(session: AsyncSession, code: str) -> bool:
    """Whether a customer with ``code`` exists (golden record)."""
    return await session.scalar(select(Customer.code).where(Customer.code == code)) is not None


async def find_customer(session: AsyncSession, code: str) -> CustomerRef | None:
    """The customer with exactly this ``code``, or None."""
    row = (
        await session.execute(
            select(
                Customer.code,
                Customer.name,
                Customer.account_type,
                Customer.parent_code,
                Customer.scope,
            ).where(Customer.code == code)
        )
    ).first()
    return None if row is None else CustomerRef(*row)


DIRECTORY_COLUMNS = (
    "code",
    "name",
    "account_type",
    "parent_code",
    "global_account_code",
    "region",
    "country",
    "channel",
    "strategic",
    "crm_tier",
    "account_manager_email",
    "business_unit",
    "scope",
)


def customer_directory(scopes: frozenset[str] | None = None) -> Subquery:
    """Every customer in ``scopes`` (None: every scope) with its plain attributes (the columns
    of :data:`DIRECTORY_COLUMNS`; no money, no source attributes), as a subquery to join in the
    caller's statement. PostgreSQL folds it into the caller's query, so the columns the caller
    does not use cost nothing."""
    columns = Customer.__table__.c
    query = select(*(columns[name] for name in DIRECTORY_COLUMNS))
    if scopes is not None:
        query = query.where(Customer.scope.in_(sorted(scopes)))
    return query.subquery("customer_directory")


# ---------------------------------------------------------------------------------------------
# The account hierarchy (``parent_code``)


@dataclass(frozen=True)
class AccountNode:
    """An account of a hierarchy, ``depth`` levels below the account asked for (0: itself)."""

    code: str
    name: str
    account_type: str
    parent_code: str | None
    depth: int


def account_subtree(root_code: str) -> Select[tuple[str]]:
    """A SELECT of ``root_code`` and the code of every customer below it (UNION stops on
    cycles), to use inside the caller's statement."""
    tree = (
        select(Customer.code.label("code"))
        .where(Customer.code == root_code)
        .cte("account_subtree", recursive=True)
    )
    tree = tree.union(select(Customer.code).join(tree, Customer.parent_code == tree.c.code))
    return select(tree.c.code)


@functools.cache
def _tree_statement(limit: int) -> Select[Any]:
    """The hierarchy walk, built once per limit (constructing a recursive CTE costs more than
    running it); the root account is bound per call."""
    tree = (
        select(Customer.code.label("code"), literal(0).label("depth"))
        .where(Customer.code == bindparam("root"))
        .cte("account_tree", recursive=True)
    )
    tree = tree.union(
        select(Customer.code, (tree.c.depth + 1).label("depth"))
        .join(tree, Customer.parent_code == tree.c.code)
        .where(tree.c.depth < MAX_ACCOUNT_DEPTH)
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
        .limit(limit)
    )


async def account_tree(session: AsyncSession, root_code: str, *, limit: int) -> list[AccountNode]:
    """``root_code`` first, then the accounts below it by depth and code, each once (at its
    shallowest depth), read in one statement of at most ``limit`` rows."""
    rows = await session.execute(_tree_statement(limit), {"root": root_code})
    seen: dict[str, AccountNode] = {}
    for code, name, kind, parent, depth in rows.all():
        seen.setdefault(code, AccountNode(code, name, kind, parent, int(depth)))
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Order history


def account_order_lines(account_code: str, start: date, end: date) -> Subquery:
    """The order lines of ``account_code`` and every account below it, ordered from ``start``
    through ``end``, as a subquery to aggregate in the caller's statement. Its columns:
    ``order_date``, ``requested_date``, ``promised_date``, ``delivered_date``, ``quantity``,
    ``delivered_quantity``, ``damaged``, ``documentation_ok``; revenue and margin are not
    among them."""
    return (
        select(
            OrderLine.order_date,
            OrderLine.requested_date,
            OrderLine.promised_date,
            OrderLine.delivered_date,
            OrderLine.quantity,
            OrderLine.delivered_quantity,
            OrderLine.damaged,
            OrderLine.documentation_ok,
        )
        .where(
            OrderLine.customer_code.in_(account_subtree(account_code)),
            OrderLine.order_date >= start,
            OrderLine.order_date <= end,
        )
        .subquery("account_order_lines")
    )


async def stale_order_feeds(session: AsyncSession, now: datetime) -> list[str]:
    """Order-history feeds past their staleness threshold, as readable sentences."""
    feeds = (await session.execute(select(Feed).where(Feed.entity == "order_lines"))).scalars()
    stale: list[str] = []
    for feed in feeds:
        if feed.last_success_at is None:
            continue
        age_hours = (now - feed.last_success_at).total_seconds() / 3600
        if age_hours > feed.staleness_hours:
            stale.append(
                f"feed '{feed.name}' last loaded {age_hours:.0f} h ago "
                f"(threshold {feed.staleness_hours} h)"
            )
    return stale


# ---------------------------------------------------------------------------------------------
# Imports


def generic_profile(entity_name: str, source_system: str = "erp") -> Profile:
    """The generic CSV profile of ``entity_name`` (columns named like its attributes), for
    records that come from ``source_system``."""
    profile = presets()[f"generic_{entity_name}"]
    return dataclasses.replace(profile, source_system=source_system)
