"""Test data builders: tenants, users (staff and customer), customers, products, order lines.

Each writes straight into a tenant's schema (no import pipeline, no HTTP), filling every
required column with a plain default, so a test states only what it is about. The conftest
fixtures (``make_tenant``, ``make_staff``, ``make_customers``...) are thin wrappers over these.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

PASSWORD = "correct horse battery staple"


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def new_tenant(
    runtime: Runtime, region: str = "eu", name: str = "Test Tenant", prefix: str = "t"
) -> TenantRef:
    """A freshly provisioned tenant (its own schema at head, its first data key)."""
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.service import provision_tenant

    return await provision_tenant(
        runtime.databases,
        unique_slug(prefix),
        name,
        region,
        kms=kms_from_settings(runtime.settings),
    )


@dataclass(frozen=True)
class Staff:
    """A user who can sign in: staff, or a customer's portal user."""

    tenant: TenantRef
    email: str
    password: str
    user_id: str


async def new_user(
    tenant: TenantRef,
    role: str = "admin",
    scope: str = "*",
    customer: str | None = None,
    *,
    email: str | None = None,
    password: str = PASSWORD,
) -> Staff:
    """An active user with a known password and one role; ``role="customer"`` makes a portal
    user of the customer ``customer`` (a code)."""
    from tierline.platform.identity.users import SYSTEM, create_user

    email = email or f"{role}.{uuid.uuid4().hex[:8]}@example.com"
    async with tenant_session(tenant) as s:
        created = await create_user(
            s,
            email=email,
            role=role,
            scope=scope,
            actor=SYSTEM,
            password=password,
            kind="customer" if role == "customer" else "staff",
            customer_code=customer,
        )
    return Staff(tenant, email, password, str(created.user.id))


def _rows(items: Iterable[dict[str, Any] | str], key: str) -> list[dict[str, Any]]:
    return [{key: item} if isinstance(item, str) else dict(item) for item in items]


async def add_customers(tenant: TenantRef, *customers: dict[str, Any] | str) -> None:
    """Customers by code (``"C1"``) or by their columns; sold-to accounts named after their
    code unless said otherwise."""
    from tierline.masterdata.models import Customer

    async with tenant_session(tenant) as s:
        s.add_all(
            Customer(**{"name": f"Customer {row['code']}", "account_type": "sold_to", **row})
            for row in _rows(customers, "code")
        )


async def add_products(tenant: TenantRef, *products: dict[str, Any] | str) -> None:
    """Products by SKU (``"SKU1"``) or by their columns; counted in each (``EA``)."""
    from tierline.masterdata.models import Product

    async with tenant_session(tenant) as s:
        s.add_all(
            Product(**{"description": f"Product {row['sku']}", "base_uom": "EA", **row})
            for row in _rows(products, "sku")
        )


async def add_order_lines(
    tenant: TenantRef, lines: Iterable[dict[str, Any]], codec: FieldCodec | None = None
) -> None:
    """Order lines (``customer_code`` and ``sku`` at least). Each is its own order (``O1``,
    ``O2``... line 1), of 1 ``EA`` ordered today unless said otherwise; ``revenue`` and
    ``margin`` are sealed with the tenant's ``codec`` as imports store them."""
    from tierline.masterdata.models import OrderLine

    today = datetime.now(UTC).date()
    rows = []
    for n, line in enumerate(lines, start=1):
        row: dict[str, Any] = {"order_no": f"O{n}", "line_no": 1, "order_date": today}
        row.update(line)
        row.setdefault("quantity", Decimal(1))
        row.setdefault("ordered_quantity", row["quantity"])
        row.setdefault("ordered_uom", "EA")
        for column in ("revenue", "margin"):
            if column in row:
                if codec is None:
                    raise ValueError(f"sealing {column} needs the tenant's codec")
                row[f"{column}_enc"] = codec.encrypt(
                    row.pop(column),
                    table="order_lines",
                    column=column,
                    row_key=f"{row['order_no']}/{row['line_no']}",
                )
        rows.append(row)
    async with tenant_session(tenant) as s:
        s.add_all(OrderLine(**row) for row in rows)
