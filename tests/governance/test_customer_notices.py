"""Customer notices reach the customer's portal users (and those of the accounts above it) by
e-mail through the outbox, once, in the notice's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from tests.conftest import StaffFactory, TenantFactory
from tests.portal.fixtures import SCHEME, build_portal_tenant
from tierline.governance.notices import create_customer_notice
from tierline.platform.tenancy import tenant_session


async def _outbox(tenant: object) -> list[tuple[str, str]]:
    async with tenant_session(tenant) as s:  # type: ignore[arg-type]
        rows = await s.execute(
            text("SELECT to_address, subject FROM email_outbox ORDER BY to_address")
        )
        return [(r[0], r[1]) for r in rows.all()]


async def test_a_ship_to_notice_mails_its_own_and_its_parents_portal_users(
    make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    data = await build_portal_tenant(await make_tenant())
    parent_user = await make_staff(data.tenant, "customer", customer="P1")
    other_user = await make_staff(data.tenant, "customer", customer="Q1")
    before = {to for to, _ in await _outbox(data.tenant)}
    for _attempt in range(2):  # the same notice twice: written and mailed once
        async with tenant_session(data.tenant) as s:
            await create_customer_notice(
                s,
                customer_code="S1",
                kind="segment_change",
                effective_date=datetime.now(UTC).date(),
                old_segment="B",
                new_segment="A",
                old_entitlements=None,
                new_entitlements=None,
                dedupe_key="test:S1:move",
                scheme_code=SCHEME,
            )
    mailed = [(to, subject) for to, subject in await _outbox(data.tenant) if to not in before]
    assert [to for to, _ in mailed] == [parent_user.email.lower()]
    assert other_user.email.lower() not in {to for to, _ in mailed}


async def test_a_rolled_back_notice_mails_nobody(
    make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    data = await build_portal_tenant(await make_tenant())
    await make_staff(data.tenant, "customer", customer="Q1")
    before = await _outbox(data.tenant)
    try:
        async with tenant_session(data.tenant) as s:
            await create_customer_notice(
                s,
                customer_code="Q1",
                kind="segment_change",
                effective_date=datetime.now(UTC).date(),
                old_segment="C",
                new_segment="B",
                old_entitlements=None,
                new_entitlements=None,
                dedupe_key="test:Q1:rolled-back",
                scheme_code=SCHEME,
            )
            raise RuntimeError("the change that carried the notice failed")
    except RuntimeError:
        pass
    assert await _outbox(data.tenant) == before
