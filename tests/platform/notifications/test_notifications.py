"""Notifications and the e-mail outbox: dedupe, the outbox in the caller's transaction,
delivery to a real SMTP server (aiosmtpd), back-off while it is down, the page and the API,
and tenant isolation, all against the real database."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from httpx import AsyncClient
from sqlalchemy import func, select, update

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tierline.platform.access import declared_permission
from tierline.platform.jobs.worker import worker_kwargs
from tierline.platform.notifications import (
    NotificationItem,
    list_for,
    mark_read,
    notify,
    notify_many,
    unread_count,
)
from tierline.platform.notifications.controllers import ROUTES
from tierline.platform.notifications.delivery import (
    MAX_ATTEMPTS,
    deliver_tenant,
    retry_delay,
    tenants_with_due_mail,
)
from tierline.platform.notifications.jobs import deliver_due_mail, deliver_notifications
from tierline.platform.notifications.mailer import MailConfigError, Mailer, SmtpServer
from tierline.platform.notifications.models import EmailOutbox, Notification
from tierline.platform.routing import declared_handlers
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings, SettingsError
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session

SENDER = "Tierline <no-reply@tierline.example>"
BASE_URL = "https://tierline.example"


# ---------------------------------------------------------------------------------------------
# Helpers


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mailer(port: int) -> Mailer:
    return Mailer(SmtpServer.from_url(f"smtp://127.0.0.1:{port}"), SENDER)


async def outbox(tenant: TenantRef) -> list[EmailOutbox]:
    async with tenant_session(tenant) as s:
        return list((await s.scalars(select(EmailOutbox).order_by(EmailOutbox.id))).all())


async def notifications(tenant: TenantRef) -> list[Notification]:
    async with tenant_session(tenant) as s:
        return list((await s.scalars(select(Notification).order_by(Notification.id))).all())


async def make_due(tenant: TenantRef) -> None:
    """Time passes: every pending row is due again."""
    async with tenant_connection(tenant) as c:
        await c.execute(
            update(EmailOutbox)
            .where(EmailOutbox.status == "pending")
            .values(next_attempt_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 1))
        )


async def segment_move(tenant: TenantRef, *recipients: str, key: str | None = "move:42") -> int:
    async with tenant_session(tenant) as s:
        return await notify(
            s,
            recipients=list(recipients),
            kind="segment_move",
            title="ACME GmbH moved from Silver to Gold",
            body="Customer C-100 now gets the Gold service level.",
            link=f"/t/{tenant.slug}/customers/C-100",
            dedupe_key=key,
        )


# ---------------------------------------------------------------------------------------------
# Writing


async def test_notify_writes_one_row_per_recipient_and_dedupes(tenant: TenantRef) -> None:
    created = await segment_move(tenant, "AM@Example.com", "am@example.com ", "", "b@example.com")
    assert created == 2
    rows = await notifications(tenant)
    assert [r.recipient_email for r in rows] == ["am@example.com", "b@example.com"]
    assert rows[0].kind == "segment_move" and rows[0].read_at is None
    assert rows[0].dedupe_key == "move:42:am@example.com"
    # A retried job: nobody is notified or mailed twice; a new recipient still is.
    assert await segment_move(tenant, "am@example.com", "c@example.com") == 1
    mails = await outbox(tenant)
    assert sorted(m.to_address for m in mails) == [
        "am@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert all(m.status == "pending" and m.attempts == 0 for m in mails)
    assert mails[0].subject == "ACME GmbH moved from Silver to Gold"
    assert mails[0].notification_id == rows[0].id
    # Without a dedupe key, every call notifies.
    assert await segment_move(tenant, "am@example.com", key=None) == 1
    assert await segment_move(tenant, "am@example.com", key=None) == 1


async def test_outbox_row_is_in_the_callers_transaction(tenant: TenantRef) -> None:
    with pytest.raises(RuntimeError):
        async with tenant_session(tenant) as s:
            await notify(
                s,
                recipients=["am@example.com"],
                kind="segment_move",
                title="moved",
                body="",
                link=None,
                dedupe_key="rolled-back",
            )
            raise RuntimeError("the caller's change failed")
    assert await notifications(tenant) == [] and await outbox(tenant) == []
    # Works on a Core connection too, and email=False queues no mail.
    async with tenant_connection(tenant) as c:
        assert (
            await notify(
                c,
                recipients=["am@example.com"],
                kind="escalation",
                title="t",
                body="b",
                link=None,
                dedupe_key="x",
                email=False,
            )
            == 1
        )
    assert len(await notifications(tenant)) == 1 and await outbox(tenant) == []


async def test_notify_many_is_one_statement_for_thousands(tenant: TenantRef) -> None:
    items = [
        NotificationItem(f"am{i % 50}@example.com", f"Customer {i} moved", "body", None, f"m:{i}")
        for i in range(3000)
    ]
    async with tenant_session(tenant) as s:
        assert await notify_many(s, items, kind="segment_move") == 3000
    async with tenant_session(tenant) as s:
        # Tuples work too; the repeats are skipped.
        assert (
            await notify_many(
                s,
                [(i.recipient, i.title, i.body, i.link, i.dedupe_key) for i in items[:10]],
                kind="segment_move",
            )
            == 0
        )
        assert await unread_count(s, "AM7@example.com") == 60
        queued = await s.scalar(select(func.count()).select_from(EmailOutbox))
    assert queued == 3000


async def test_bad_input_is_refused(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        for link in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
            with pytest.raises(ValueError, match="link"):
                await notify(
                    s,
                    recipients=["a@example.com"],
                    kind="k",
                    title="t",
                    body="",
                    link=link,
                    dedupe_key=None,
                )
        with pytest.raises(ValueError, match="kind"):
            await notify(
                s,
                recipients=["a@example.com"],
                kind="Bad Kind",
                title="t",
                body="",
                link=None,
                dedupe_key=None,
            )
        # A title becomes a subject: line breaks are folded away (no header injection).
        await notify(
            s,
            recipients=["a@example.com"],
            kind="k",
            title="a\r\nBcc: x@evil.example",
            body="",
            link=None,
            dedupe_key=None,
        )
    assert (await notifications(tenant))[0].title == "a Bcc: x@evil.example"


# ---------------------------------------------------------------------------------------------
# Reading and marking


async def test_list_is_unread_first_newest_first_and_pages(tenant: TenantRef) -> None:
    items = [NotificationItem("me@example.com", f"n{i}", "", None, f"k{i}") for i in range(7)]
    items.append(NotificationItem("other@example.com", "not mine", "", None, "o"))
    async with tenant_session(tenant) as s:
        await notify_many(s, items, kind="segment_move")
        ids = {n.title: n.id for n in (await list_for(s, "me@example.com", limit=50)).items}
        await mark_read(s, "me@example.com", [ids["n5"], ids["n6"]])
    async with tenant_session(tenant) as s:
        seen: list[str] = []
        before = None
        while True:
            page = await list_for(s, "ME@example.com", before_id=before, limit=3)
            seen += [n.title for n in page.items]
            if page.next_before_id is None:
                break
            before = page.next_before_id
        assert seen == ["n4", "n3", "n2", "n1", "n0", "n6", "n5"]
        unread = await list_for(s, "me@example.com", unread_only=True)
        assert [n.title for n in unread.items] == ["n4", "n3", "n2", "n1", "n0"]
        assert await unread_count(s, "me@example.com") == 5


async def test_mark_read_touches_only_the_callers_rows(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        await notify(
            s,
            recipients=["me@example.com", "you@example.com"],
            kind="k",
            title="t",
            body="",
            link=None,
            dedupe_key="d",
        )
        rows = {n.recipient_email: n.id for n in await s.scalars(select(Notification))}
        # Someone else's id is ignored, one's own is marked.
        assert await mark_read(s, "me@example.com", [rows["you@example.com"]]) == 0
        assert await mark_read(s, "me@example.com", [rows["me@example.com"]]) == 1
        assert await mark_read(s, "me@example.com", "all") == 0
        assert await unread_count(s, "you@example.com") == 1
        assert await mark_read(s, "you@example.com", "all") == 1


# ---------------------------------------------------------------------------------------------
# Delivery


async def test_delivery_to_a_real_smtp_server(
    tenant: TenantRef, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    await segment_move(tenant, "am@example.com", "planner@example.com")
    report = await deliver_tenant(tenant, mailer(port), BASE_URL)
    assert report.sent == 2 and report.failed == 0 and not report.server_unreachable
    by_to = {rcpts[0]: msg for rcpts, msg in inbox.messages}
    assert set(by_to) == {"am@example.com", "planner@example.com"}
    msg = by_to["am@example.com"]
    assert msg["Subject"] == "ACME GmbH moved from Silver to Gold"
    assert msg["To"] == "am@example.com" and msg["From"] == SENDER
    assert msg["Auto-Submitted"] == "auto-generated"
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert "Customer C-100 now gets the Gold service level." in body
    assert f"{BASE_URL}/t/{tenant.slug}/customers/C-100" in body
    rows = await outbox(tenant)
    assert all(r.status == "sent" and r.sent_at and r.attempts == 1 for r in rows)
    # Nothing left: a second run sends nothing.
    assert (await deliver_tenant(tenant, mailer(port), BASE_URL)).sent == 0
    assert len(inbox.messages) == 2


async def test_concurrent_workers_send_each_message_once(
    tenant: TenantRef, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    async with tenant_session(tenant) as s:
        items = [(f"am{i}@example.com", f"move {i}", "", None, f"c{i}") for i in range(120)]
        await notify_many(s, items, kind="segment_move")
    reports = await asyncio.gather(
        *(deliver_tenant(tenant, mailer(port), BASE_URL, batch_size=20) for _ in range(3))
    )
    assert sum(r.sent for r in reports) == 120
    recipients = [rcpts[0] for rcpts, _ in inbox.messages]
    assert len(recipients) == 120 and len(set(recipients)) == 120
    assert {r.status for r in await outbox(tenant)} == {"sent"}


async def test_smtp_down_keeps_rows_and_backs_off_then_delivers(
    runtime: Runtime, make_tenant: TenantFactory, smtp_server: tuple[Inbox, int]
) -> None:
    tenant = await make_tenant()
    await segment_move(tenant, "am@example.com")
    down = mailer(free_port())  # nothing listens there
    before = datetime.now(UTC)
    report = await deliver_tenant(tenant, down, BASE_URL)
    assert report.server_unreachable and report.retrying == 1 and report.sent == 0
    (row,) = await outbox(tenant)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error and "Connection" in row.last_error
    assert row.next_attempt_at >= before + retry_delay(1) - (datetime.now(UTC) - before)
    # Not due yet: the next run leaves it alone.
    assert (await deliver_tenant(tenant, down, BASE_URL)).retrying == 0
    assert tenant.slug not in {
        t.slug for t in await tenants_with_due_mail(runtime.databases, [tenant])
    }

    # The server is back and the back-off has passed: the cron delivers it.
    inbox, port = smtp_server
    await make_due(tenant)
    assert [t.slug for t in await tenants_with_due_mail(runtime.databases, [tenant])] == [
        tenant.slug
    ]
    settings = replace(runtime.settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=SENDER)
    report = await deliver_due_mail(runtime, settings)
    assert report.sent >= 1
    assert any(rcpts == ["am@example.com"] for rcpts, _ in inbox.messages)
    (row,) = await outbox(tenant)
    assert row.status == "sent" and row.attempts == 2


async def test_gives_up_after_max_attempts(tenant: TenantRef) -> None:
    await segment_move(tenant, "am@example.com")
    async with tenant_connection(tenant) as c:
        await c.execute(update(EmailOutbox).values(attempts=MAX_ATTEMPTS - 1))
    report = await deliver_tenant(tenant, mailer(free_port()), BASE_URL)
    assert report.failed == 1
    (row,) = await outbox(tenant)
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS


async def test_without_smtp_the_cron_sends_nothing_and_loses_nothing(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await segment_move(tenant, "am@example.com")
    assert runtime.settings.smtp_url is None
    assert await deliver_notifications({"runtime": runtime}) == 0
    (row,) = await outbox(tenant)
    assert row.status == "pending" and row.attempts == 0


def test_the_worker_runs_the_delivery_cron() -> None:
    assert any(c.coroutine is deliver_notifications for c in worker_kwargs()["cron_jobs"])


def test_smtp_urls_and_settings() -> None:
    s = SmtpServer.from_url("smtps://u%40x:p%3Aw@mail.example")
    assert (s.host, s.port, s.security, s.username, s.password) == (
        "mail.example",
        465,
        "tls",
        "u@x",
        "p:w",
    )
    assert "p:w" not in repr(s)
    assert SmtpServer.from_url("smtp://u:p@mail.example").port == 587
    assert SmtpServer.from_url("smtp://mail.example").port == 25
    assert SmtpServer.from_url("smtp+starttls://mail.example").security == "starttls"
    with pytest.raises(MailConfigError):
        SmtpServer.from_url("http://mail.example")
    env = {"TIERLINE_SMTP_URL": "smtp://u:secret@mail.example:587", "TIERLINE_MAIL_FROM": SENDER}
    settings = Settings._from_mapping(env)
    assert settings.smtp_url == env["TIERLINE_SMTP_URL"] and settings.mail_from == SENDER
    assert "secret" not in repr(settings)
    assert Settings._from_mapping({}).mail_from == "Tierline <no-reply@localhost>"
    assert Settings._from_mapping({}).smtp_url is None
    with pytest.raises(SettingsError, match="TIERLINE_SMTP_URL"):
        Settings._from_mapping({"TIERLINE_SMTP_URL": "mail.example:25"})
    with pytest.raises(SettingsError, match="TIERLINE_MAIL_FROM"):
        Settings._from_mapping({"TIERLINE_MAIL_FROM": "nobody"})


# ---------------------------------------------------------------------------------------------
# Page and API


def test_every_route_declares_tenant_view() -> None:
    assert {declared_permission(r) for r in declared_handlers(ROUTES)} == {"tenant:view"}


async def test_page_lists_only_the_signed_in_users_notifications(
    client: AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    me, other = await make_staff(tenant, "planner"), await make_staff(tenant, "analyst")
    await segment_move(tenant, me.email, other.email)
    async with tenant_session(tenant) as s:
        await notify(
            s,
            recipients=[other.email],
            kind="escalation",
            title="Only for the analyst",
            body="",
            link=None,
            dedupe_key=None,
        )
    await sign_in(client, me)
    page = await client.get(f"/t/{tenant.slug}/notifications")
    assert page.status_code == 200
    assert "ACME GmbH moved from Silver to Gold" in page.text
    assert "Only for the analyst" not in page.text
    assert "1 unread" in page.text and "E-mail is not configured" in page.text
    assert f'href="/t/{tenant.slug}/customers/C-100"' in page.text
    assert 'href="/t/' + tenant.slug + '/notifications"' in page.text  # the nav entry

    # Marking someone else's notification read through the form changes nothing.
    theirs = [n.id for n in await notifications(tenant) if n.recipient_email == other.email]
    token = csrf_of(page.text)
    resp = await client.post(
        f"/t/{tenant.slug}/notifications/read",
        data={"_csrf": token, "id": [str(i) for i in theirs]},
    )
    assert resp.status_code == 303
    async with tenant_session(tenant) as s:
        assert await unread_count(s, other.email) == 2
        assert await unread_count(s, me.email) == 1
    # Without the CSRF token: refused.
    assert (
        await client.post(f"/t/{tenant.slug}/notifications/read", data={"all": "1"})
    ).status_code == 403
    resp = await client.post(
        f"/t/{tenant.slug}/notifications/read", data={"_csrf": token, "all": "1"}
    )
    assert resp.status_code == 303 and resp.headers["location"] == f"/t/{tenant.slug}/notifications"
    async with tenant_session(tenant) as s:
        assert await unread_count(s, me.email) == 0
        assert await unread_count(s, other.email) == 2
    page = await client.get(f"/t/{tenant.slug}/notifications", params={"unread": "1"})
    assert "No unread notifications." in page.text


async def test_api_lists_and_marks_only_own(
    client: AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    me, other = await make_staff(tenant, "planner"), await make_staff(tenant, "analyst")
    async with tenant_session(tenant) as s:
        await notify_many(
            s,
            [(me.email, f"mine {i}", "", None, f"k{i}") for i in range(3)]
            + [(other.email, "theirs", "", None, "t")],
            kind="segment_move",
        )
        theirs = await s.scalar(
            select(Notification.id).where(Notification.recipient_email == other.email)
        )
    await sign_in(client, me)
    body = (await client.get("/api/v1/notifications", params={"limit": 2})).json()
    assert [n["title"] for n in body["items"]] == ["mine 2", "mine 1"]
    assert body["unread"] == 3 and body["next_cursor"]
    more = (
        await client.get("/api/v1/notifications", params={"cursor": body["next_cursor"]})
    ).json()
    assert [n["title"] for n in more["items"]] == ["mine 0"] and more["next_cursor"] is None

    page = await client.get(f"/t/{tenant.slug}/notifications")
    headers = {"X-CSRF-Token": csrf_of(page.text)}
    url = "/api/v1/notifications:mark-read"
    assert (await client.post(url, json={"ids": [theirs]})).status_code == 403  # no CSRF
    resp = await client.post(url, json={"ids": [theirs, body["items"][0]["id"]]}, headers=headers)
    assert resp.status_code == 200 and resp.json() == {"marked": 1, "unread": 2}
    resp = await client.post(url, json={"all": True}, headers=headers)
    assert resp.json() == {"marked": 2, "unread": 0}
    assert (await client.post(url, json={}, headers=headers)).status_code == 400
    async with tenant_session(tenant) as s:
        assert await unread_count(s, other.email) == 1


async def test_another_tenants_notifications_are_404(
    client: AsyncClient, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    a, b = await make_tenant(), await make_tenant()
    user_a = await make_staff(a, "planner")
    user_b = await make_staff(b, "planner")
    await segment_move(b, user_b.email, user_a.email)  # even addressed to A's user's e-mail
    await sign_in(client, user_a)
    page = await client.get(f"/t/{b.slug}/notifications", headers={"accept": "text/html"})
    assert page.status_code == 404 and "ACME" not in page.text
    own = await client.get(f"/t/{a.slug}/notifications")
    assert own.status_code == 200 and "ACME" not in own.text
    resp = await client.post(
        f"/t/{b.slug}/notifications/read", data={"_csrf": csrf_of(own.text), "all": "1"}
    )
    assert resp.status_code == 404
    api = await client.get("/api/v1/notifications", params={"tenant": b.slug})
    assert api.status_code == 200 and api.json()["items"] == []
    async with tenant_session(b) as s:
        assert await unread_count(s, user_a.email) == 1


async def test_unknown_tenant_and_signed_out(client: AsyncClient) -> None:
    assert (await client.get("/api/v1/notifications")).status_code == 401
    resp = await client.get("/t/no_such_tenant/notifications", headers={"accept": "text/html"})
    assert resp.status_code == 404
