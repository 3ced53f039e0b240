"""Governance notifies people, never machines: an override a machine client requested tells the
customer's account manager when it is decided, not the client (whose name is no e-mail
address and would fail in the outbox forever), and an account manager's address that is not
an e-mail address reaches nobody."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from tests.governance.contract_moves import HeldMoves, build_held_moves
from tierline.governance import overrides
from tierline.governance.checks import ApproverRights
from tierline.masterdata.models import Customer
from tierline.platform.identity.clients import create_client
from tierline.platform.identity.users import Actor
from tierline.platform.notifications.models import EmailOutbox, Notification
from tierline.platform.tenancy import TenantRef, tenant_session

BOARD = Actor("board.member@example.com")


async def _client_requests(client: httpx.AsyncClient, held: HeldMoves, name: str) -> int:
    client_id, secret = await create_client(held.tenant, name, ["overrides:request"], "test")
    token = await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    made = await client.post(
        "/api/v1/overrides",
        json={
            "scheme": "tiers",
            "entity_key": "C05",
            "to_segment": "GOLD",
            "reason": "framework agreement signed",
            "expires_on": (held.today + timedelta(days=30)).isoformat(),
        },
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["requested_by"] == name
    return int(made.json()["id"])


async def _decide(held: HeldMoves, request_id: int) -> None:
    async with tenant_session(held.tenant) as s:
        await overrides.decide_override(
            s,
            request_id,
            "approve",
            BOARD,
            "checked",
            rights=ApproverRights.everywhere(),
            tenant_slug=held.tenant.slug,
        )


async def _sent(tenant: TenantRef, request_id: int) -> tuple[set[str], set[str]]:
    """(in-app recipients, outbox addresses) of the decision on ``request_id``."""
    key = f"override:{request_id}:%"
    async with tenant_session(tenant) as s:
        notified = set(
            (
                await s.execute(
                    select(Notification.recipient_email).where(Notification.dedupe_key.like(key))
                )
            ).scalars()
        )
        mailed = set(
            (
                await s.execute(
                    select(EmailOutbox.to_address).where(EmailOutbox.dedupe_key.like(key))
                )
            ).scalars()
        )
    return notified, mailed


async def test_a_machine_clients_request_tells_the_account_manager_not_the_client(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    held = await build_held_moves(tenant)
    async with tenant_session(tenant) as s:
        await s.execute(
            update(Customer)
            .where(Customer.code == "C05")
            .values(account_manager_email="AM.C05@Example.com")
        )
    request_id = await _client_requests(client, held, "verifier")
    await _decide(held, request_id)
    assert await _sent(tenant, request_id) == ({"am.c05@example.com"}, {"am.c05@example.com"})
    async with tenant_session(tenant) as s:
        addresses = set((await s.execute(select(EmailOutbox.to_address))).scalars())
    assert "verifier" not in addresses
    assert all("@" in a for a in addresses), addresses


async def test_a_manager_field_that_is_no_address_reaches_nobody(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    held = await build_held_moves(tenant)
    async with tenant_session(tenant) as s:
        await s.execute(
            update(Customer)
            .where(Customer.code == "C05")
            .values(account_manager_email="Sales team North")
        )
    request_id = await _client_requests(client, held, "ERP nightly sync")
    await _decide(held, request_id)
    assert await _sent(tenant, request_id) == (set(), set())


async def test_a_client_named_like_an_address_is_still_no_person(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    held = await build_held_moves(tenant)
    async with tenant_session(tenant) as s:
        await s.execute(
            update(Customer)
            .where(Customer.code == "C05")
            .values(account_manager_email="am.c05@example.com")
        )
    request_id = await _client_requests(client, held, "Robot@ERP.example")
    await _decide(held, request_id)
    assert await _sent(tenant, request_id) == ({"am.c05@example.com"}, {"am.c05@example.com"})
