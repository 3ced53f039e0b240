"""Forgotten passwords: a link by e-mail, the same answer for every address, once and for half an
hour, throttled, audited, for staff and portal users alike."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from tests.conftest import Staff, StaffFactory, TenantFactory, csrf_of, sign_in
from tierline.platform.audit.models import AuditLog
from tierline.platform.db import utcnow
from tierline.platform.identity.models import PasswordReset, User
from tierline.platform.notifications.models import EmailOutbox
from tierline.platform.tenancy import TenantRef, tenant_session

NEW = "a brand new passphrase 7"
LINK = re.compile(r"https?://[^/\s]+(/(?:t|portal)/[a-z0-9_]+/password/reset/[A-Za-z0-9_-]+)")


async def ask_for_link(
    client: httpx.AsyncClient, tenant: TenantRef, email: str, surface: str = "t"
) -> httpx.Response:
    form = await client.get(f"/{surface}/{tenant.slug}/password/forgot")
    assert form.status_code == 200
    return await client.post(
        f"/{surface}/{tenant.slug}/password/forgot",
        data={"email": email, "_csrf": csrf_of(form.text)},
    )


async def mails_to(tenant: TenantRef, address: str) -> list[str]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(EmailOutbox.body)
            .where(EmailOutbox.to_address == address)
            .order_by(EmailOutbox.id)
        )
        return list(rows.scalars())


def link_in(body: str) -> str:
    found = LINK.search(body)
    assert found, body
    return found.group(1)


async def reset_with(client: httpx.AsyncClient, path: str, new: str, repeat: str) -> httpx.Response:
    form = await client.get(path)
    return await client.post(path, data={"new": new, "repeat": repeat, "_csrf": csrf_of(form.text)})


async def test_staff_reset_by_link_once_then_sign_in_with_the_new_password(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    tenant: TenantRef,
    make_staff: StaffFactory,
) -> None:
    planner = await make_staff(tenant, "planner")
    await sign_in(browser, planner)  # a session elsewhere, which the reset must end
    assert (await browser.get(f"/t/{tenant.slug}/")).status_code == 200

    known = await ask_for_link(client, tenant, planner.email)
    unknown = await ask_for_link(client, tenant, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert "If an account exists" in known.text and "If an account exists" in unknown.text
    assert await mails_to(tenant, "nobody@example.com") == []
    [body] = await mails_to(tenant, planner.email)
    path = link_in(body)
    assert path.startswith(f"/t/{tenant.slug}/password/reset/")

    differs = await reset_with(client, path, NEW, NEW + "x")
    assert differs.status_code == 422 and "differ" in differs.text
    weak = await reset_with(client, path, "short", "short")
    assert weak.status_code == 422 and "password refused" in weak.text
    done = await reset_with(client, path, NEW, NEW)
    assert done.status_code == 303 and done.headers["location"] == f"/t/{tenant.slug}/login?reset=1"
    assert "password is changed" in (await client.get(done.headers["location"])).text

    assert (await browser.get(f"/t/{tenant.slug}/")).status_code == 303  # signed out
    assert (await sign_in(client, planner)).status_code == 401  # the old password is gone
    fresh = Staff(tenant, planner.email, NEW, planner.user_id)
    assert (await sign_in(client, fresh)).status_code == 303
    again = await client.get(path)
    assert again.status_code == 410 and "not valid any more" in again.text

    async with tenant_session(tenant) as s:
        audit = list(
            (
                await s.execute(
                    select(AuditLog.action, AuditLog.reason)
                    .where(AuditLog.action.like("auth.password_reset%"))
                    .order_by(AuditLog.seq)
                )
            ).all()
        )
    assert audit == [
        ("auth.password_reset_requested", None),
        ("auth.password_reset_requested", "no such account"),
        ("auth.password_reset", None),
    ]


async def test_links_expire_and_a_new_link_spends_the_old_one(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    planner = await make_staff(tenant, "planner")
    await ask_for_link(client, tenant, planner.email)
    await ask_for_link(client, tenant, planner.email)
    first, second = (link_in(b) for b in await mails_to(tenant, planner.email))
    assert (await client.get(first)).status_code == 410
    assert (await client.get(second)).status_code == 200
    form = await client.get(second)  # opened in time...
    async with tenant_session(tenant) as s:
        await s.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = await client.post(  # ...sent too late
        second, data={"new": NEW, "repeat": NEW, "_csrf": csrf_of(form.text)}
    )
    assert late.status_code == 410 and "not valid any more" in late.text
    assert (await client.get(second)).status_code == 410


async def test_a_locked_account_is_unlocked_by_a_reset(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    planner = await make_staff(tenant, "planner")
    async with tenant_session(tenant) as s:
        await s.execute(
            update(User).values(locked_until=utcnow() + timedelta(minutes=10), failed_logins=0)
        )
    await ask_for_link(client, tenant, planner.email)
    [body] = await mails_to(tenant, planner.email)
    assert (await reset_with(client, link_in(body), NEW, NEW)).status_code == 303
    assert (
        await sign_in(client, Staff(tenant, planner.email, NEW, planner.user_id))
    ).status_code == 303


async def test_requests_are_throttled_per_address_and_per_mailbox(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    planner = await make_staff(tenant, "planner")
    answers = [(await ask_for_link(client, tenant, planner.email)).status_code for _ in range(11)]
    assert answers[:10] == [200] * 10 and answers[10] == 429
    assert len(await mails_to(tenant, planner.email)) == 3  # the mailbox gets three at most


async def test_portal_users_reset_in_the_portal_and_links_stay_in_their_tenant(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    buyer = await make_staff(tenant, "customer", customer="C1")
    answer = await ask_for_link(client, tenant, buyer.email, surface="portal")
    assert answer.status_code == 200 and "If an account exists" in answer.text
    [body] = await mails_to(tenant, buyer.email)
    path = link_in(body)
    assert path.startswith(f"/portal/{tenant.slug}/password/reset/")
    elsewhere = path.replace(tenant.slug, other.slug)
    assert (await client.get(elsewhere)).status_code == 410  # another tenant knows no such link
    done = await reset_with(client, path, NEW, NEW)
    assert done.headers["location"] == f"/portal/{tenant.slug}/login?reset=1"
    page = await client.get(f"/portal/{tenant.slug}/login")
    signed_in = await client.post(
        f"/portal/{tenant.slug}/login",
        data={"email": buyer.email, "password": NEW, "_csrf": csrf_of(page.text)},
    )
    assert signed_in.status_code == 303
