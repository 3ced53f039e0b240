"""Segmentation tests share one seeded tenant; contracts are tenant-wide promises that every
later entitlement and move check would see, so each test's contracts end with the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


@pytest.fixture(autouse=True)
async def _contracts_end_with_the_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "seeded_tenant" not in request.fixturenames:
        return
    tenant: TenantRef = request.getfixturevalue("seeded_tenant")
    runtime: Runtime = request.getfixturevalue("runtime")
    async with tenant_session(tenant, runtime.databases) as session:
        await session.execute(text("DELETE FROM contracts"))
