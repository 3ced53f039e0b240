"""Master data's face to the other domains: customers by code, the customer directory to join,
the account hierarchy (walked, or as a subtree to join), an account's order lines to aggregate,
and the generic import profiles, through the real database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tierline.masterdata import service
from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.platform.tenancy import TenantRef, tenant_session

# G (global) > P (parent) > S1, S2 (sold-tos) > T1 (ship-to of S1); X stands apart; Y and Z
# are each other's parent (a cycle in imported data).
ACCOUNTS = [
    ("G", None, "global", "emea"),
    ("P", "G", "parent", "emea"),
    ("S1", "P", "sold_to", "emea"),
    ("S2", "P", "sold_to", "apac"),
    ("T1", "S1", "ship_to", "emea"),
    ("X", None, "sold_to", "amer"),
    ("Y", "Z", "sold_to", "amer"),
    ("Z", "Y", "sold_to", "amer"),
]


async def seed(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        s.add_all(
            Customer(
                code=code,
                name=f"Account {code}",
                account_type=kind,
                parent_code=parent,
                scope=scope,
            )
            for code, parent, kind, scope in ACCOUNTS
        )
        s.add(Product(sku="SKU1", description="Widget", base_uom="EA"))
        await s.flush()
        s.add_all(
            OrderLine(
                order_no=f"O{i}",
                line_no=1,
                customer_code=code,
                sku="SKU1",
                order_date=day,
                quantity=Decimal(i),
                ordered_quantity=Decimal(i),
                ordered_uom="EA",
                damaged=False,
                documentation_ok=True,
            )
            for i, (code, day) in enumerate(
                [
                    ("S1", date(2026, 3, 2)),
                    ("T1", date(2026, 3, 9)),
                    ("S2", date(2026, 3, 16)),
                    ("X", date(2026, 3, 16)),  # another account
                    ("T1", date(2026, 1, 5)),  # before the window
                ],
                start=1,
            )
        )


async def test_find_customer(tenant: TenantRef) -> None:
    await seed(tenant)
    async with tenant_session(tenant) as s:
        found = await service.find_customer(s, "T1")
        assert found == service.CustomerRef("T1", "Account T1", "ship_to", "S1", "emea")
        assert await service.find_customer(s, "t1") is None
        assert await service.find_customer(s, "NOPE") is None


async def test_customer_directory_joins_in_one_statement(tenant: TenantRef) -> None:
    await seed(tenant)
    async with tenant_session(tenant) as s:
        everyone = service.customer_directory()
        rows = await s.execute(select(everyone.c.code, everyone.c.name).order_by(everyone.c.code))
        assert [r.code for r in rows] == sorted(code for code, *_ in ACCOUNTS)
        apac = service.customer_directory(frozenset({"apac"}))
        assert [tuple(r) for r in await s.execute(select(apac.c.code, apac.c.scope))] == [
            ("S2", "apac")
        ]
        assert tuple(apac.c.keys()) == service.DIRECTORY_COLUMNS
        nothing = service.customer_directory(frozenset())
        assert (await s.execute(select(func.count()).select_from(nothing))).scalar_one() == 0


async def test_account_tree_walks_down_once_per_account(tenant: TenantRef) -> None:
    await seed(tenant)
    async with tenant_session(tenant) as s:
        tree = await service.account_tree(s, "P", limit=100)
        assert [(n.code, n.depth) for n in tree] == [("P", 0), ("S1", 1), ("S2", 1), ("T1", 2)]
        assert tree[0] == service.AccountNode("P", "Account P", "parent", "G", 0)
        assert [n.code for n in await service.account_tree(s, "G", limit=2)] == ["G", "P"]
        assert await service.account_tree(s, "NOPE", limit=100) == []
        # A cycle ends at the depth guard, each account listed once.
        assert [(n.code, n.depth) for n in await service.account_tree(s, "Y", limit=100)] == [
            ("Y", 0),
            ("Z", 1),
        ]


async def test_account_subtree_and_order_lines_join_in_the_callers_statement(
    tenant: TenantRef,
) -> None:
    await seed(tenant)
    async with tenant_session(tenant) as s:
        subtree = service.account_subtree("S1")
        assert sorted((await s.execute(subtree)).scalars()) == ["S1", "T1"]
        assert sorted((await s.execute(service.account_subtree("Y"))).scalars()) == ["Y", "Z"]
        lines = service.account_order_lines("P", date(2026, 3, 1), date(2026, 3, 31))
        found: list[Any] = list(
            await s.execute(
                select(lines.c.order_date, lines.c.quantity).order_by(lines.c.order_date)
            )
        )
        assert [(r.order_date, int(r.quantity)) for r in found] == [
            (date(2026, 3, 2), 1),
            (date(2026, 3, 9), 2),
            (date(2026, 3, 16), 3),
        ]
        assert "revenue_enc" not in lines.c and "margin_enc" not in lines.c


def test_generic_profile_and_load_order() -> None:
    profile = service.generic_profile("customers", "sales")
    assert (profile.name, profile.entity, profile.source_system) == (
        "generic_customers",
        "customers",
        "sales",
    )
    assert service.generic_profile("order_lines").source_system == "erp"
    assert service.LOAD_ORDER[0] == "customers" and "order_lines" in service.LOAD_ORDER
