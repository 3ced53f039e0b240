"""Sign-in, sessions, CSRF, lockout, throttling, roles and tenant isolation of staff pages."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import httpx
from litestar import Litestar
from sqlalchemy import select, text

from tests.conftest import Staff, StaffFactory, csrf_of, http_client, sign_in
from tierline.platform.app import create_app
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.models import User
from tierline.platform.identity.sessions import SessionStore
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantRef, tenant_session


async def audit_actions(tenant: TenantRef) -> list[str]:
    async with tenant_session(tenant) as s:
        return list((await s.execute(select(AuditLog.action).order_by(AuditLog.seq))).scalars())


async def audit_reasons(tenant: TenantRef, action: str) -> list[str | None]:
    async with tenant_session(tenant) as s:
        found = await s.execute(select(AuditLog.reason).where(AuditLog.action == action))
        return list(found.scalars())


async def test_sign_in_sets_a_hardened_session_cookie(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant)
    resp = await sign_in(client, admin)
    assert resp.status_code == 303 and resp.headers["location"] == f"/t/{tenant.slug}/"
    cookie = next(h for h in resp.headers.get_list("set-cookie") if h.startswith("tl_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "auth.login" in await audit_actions(tenant)


async def test_sign_in_rotates_the_session(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, runtime: Runtime
) -> None:
    admin = await make_staff(tenant)
    await sign_in(client, admin)
    first = client.cookies["tl_session"]
    await sign_in(client, admin)
    second = client.cookies["tl_session"]
    assert first != second
    store = SessionStore(await runtime.redis())
    assert await store.get(first) is None and await store.get(second) is not None


async def test_wrong_password_is_generic_audited_and_locks_after_five(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    planner = await make_staff(tenant, "planner")
    wrong = Staff(tenant, planner.email, "definitely wrong", planner.user_id)
    unknown = Staff(tenant, "nobody@example.com", "whatever pass", "")
    r1, r2 = await sign_in(client, wrong), await sign_in(client, unknown)
    assert r1.status_code == r2.status_code == 401
    assert (
        "E-mail or password is incorrect" in r1.text
        and "E-mail or password is incorrect" in r2.text
    )
    for _ in range(4):
        await sign_in(client, wrong)
    locked = await sign_in(client, planner)  # right password, but locked now
    # A locked account answers exactly like an unknown one: no enumeration by status or text.
    assert locked.status_code == r2.status_code == 401
    assert _message(locked.text) == _message(r2.text) == _message(r1.text)
    actions = await audit_actions(tenant)
    assert actions.count("auth.login_failed") == 7 and "auth.login" not in actions
    reasons = await audit_reasons(tenant, "auth.login_failed")
    assert "account temporarily locked" in reasons  # the audit trail still knows why


def _message(page: str) -> str:
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', page, re.S)
    assert found, page
    return found.group(1).strip()


async def test_client_address_is_throttled(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    ghost = Staff(tenant, "ghost@example.com", "nope nope nope", "")
    statuses = [(await sign_in(client, ghost)).status_code for _ in range(31)]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


async def test_successful_sign_ins_do_not_count_against_the_address(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    """An office behind one address signs in all morning: only failures count."""
    planner = await make_staff(tenant, "planner")
    for _ in range(31):
        assert (await sign_in(client, planner)).status_code == 303
    ghost = Staff(tenant, "ghost@example.com", "nope nope nope", "")
    assert (await sign_in(client, ghost)).status_code == 401


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    runtime: Runtime, settings: Settings, tenant: TenantRef
) -> None:
    ghost = Staff(tenant, "ghost@example.com", "nope nope nope", "")

    async def attempts(app: Litestar, count: int, forwarded: bool) -> list[int]:
        found = []
        async with http_client(app) as c:
            for i in range(count):
                page = await c.get(f"/t/{tenant.slug}/login")
                headers = {"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {}
                resp = await c.post(
                    f"/t/{tenant.slug}/login",
                    data={"email": ghost.email, "password": "x", "_csrf": csrf_of(page.text)},
                    headers=headers,
                )
                found.append(resp.status_code)
        return found

    # Not trusted: a caller cannot buy attempts by inventing addresses.
    plain = create_app(settings, runtime=runtime)
    assert (await attempts(plain, 31, forwarded=True))[30] == 429
    # Behind a trusted proxy, each forwarded client has its own budget and is audited as such.
    proxied = create_app(replace(settings, trusted_proxies=("127.0.0.1/32",)), runtime=runtime)
    assert set(await attempts(proxied, 31, forwarded=True)) == {401}
    async with tenant_session(tenant) as s:
        addresses = set(
            (
                await s.execute(
                    select(AuditLog.client_ip).where(AuditLog.action == "auth.login_failed")
                )
            ).scalars()
        )
    assert "203.0.113.30" in addresses


async def test_login_form_without_its_csrf_cookie_is_refused(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant)
    resp = await client.post(
        f"/t/{tenant.slug}/login",
        data={"email": admin.email, "password": admin.password, "_csrf": "x"},
    )
    assert resp.status_code == 403
    assert "tl_session" not in client.cookies


async def test_state_change_without_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin, victim = await make_staff(tenant), await make_staff(tenant, "planner")
    await sign_in(client, admin)
    url = f"/t/{tenant.slug}/admin/users/{victim.user_id}/status"
    for data in ({"status": "disabled"}, {"status": "disabled", "_csrf": "forged"}):
        resp = await client.post(url, data=data)
        assert resp.status_code == 403
    async with tenant_session(tenant) as s:
        assert (await s.get(User, uuid.UUID(victim.user_id))).status == "active"  # type: ignore[union-attr]
    page = await client.get(f"/t/{tenant.slug}/admin/users")
    ok = await client.post(url, data={"status": "disabled", "_csrf": csrf_of(page.text)})
    assert ok.status_code == 303
    async with tenant_session(tenant) as s:
        assert (await s.get(User, uuid.UUID(victim.user_id))).status == "disabled"  # type: ignore[union-attr]


async def test_disabling_a_user_ends_their_sessions(
    app: Litestar, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin, planner = await make_staff(tenant), await make_staff(tenant, "planner")
    async with http_client(app) as admin_c, http_client(app) as planner_c:
        await sign_in(admin_c, admin)
        await sign_in(planner_c, planner)
        assert (await planner_c.get(f"/t/{tenant.slug}/")).status_code == 200
        page = await admin_c.get(f"/t/{tenant.slug}/admin/users")
        await admin_c.post(
            f"/t/{tenant.slug}/admin/users/{planner.user_id}/status",
            data={"status": "disabled", "_csrf": csrf_of(page.text)},
        )
        assert (await planner_c.get(f"/t/{tenant.slug}/")).status_code == 303


async def test_staff_of_one_tenant_get_404_for_another_tenant(
    client: httpx.AsyncClient,
    make_tenant,
    make_staff: StaffFactory,  # type: ignore[no-untyped-def]
) -> None:
    a, b = await make_tenant(), await make_tenant()
    await sign_in(client, await make_staff(a, "admin"))
    for path in ("/", "/admin/users", "/account/password"):
        resp = await client.get(f"/t/{b.slug}{path}")
        assert resp.status_code == 404, path
        assert b.name not in resp.text


async def test_role_decides_and_grant_changes_apply_without_restart(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    analyst = await make_staff(tenant, "analyst")
    await sign_in(client, analyst)
    assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 403
    # Another process (here: plain SQL) grants admin; the policy version moves with it.
    async with tenant_session(tenant) as s:
        await s.execute(
            text(
                "INSERT INTO role_grants (user_id, role, scope, created_at) "
                "VALUES (:u, 'admin', '*', now())"
            ),
            {"u": uuid.UUID(analyst.user_id)},
        )
    assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 200
    async with tenant_session(tenant) as s:
        await s.execute(
            text("DELETE FROM role_grants WHERE role = 'admin' AND user_id = :u"),
            {"u": uuid.UUID(analyst.user_id)},
        )
    assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 403


async def test_scope_limited_grant_is_not_admin_everywhere(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    regional = await make_staff(tenant, "planner", scope="emea")
    await sign_in(client, regional)
    assert (await client.get(f"/t/{tenant.slug}/")).status_code == 200
    assert (await client.get(f"/t/{tenant.slug}/admin/users")).status_code == 403


async def test_invitation_flow_and_one_time_use(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant)
    await sign_in(client, admin)
    page = await client.get(f"/t/{tenant.slug}/admin/users")
    email = f"new.{uuid.uuid4().hex[:6]}@example.com"
    resp = await client.post(
        f"/t/{tenant.slug}/admin/users",
        data={
            "email": email,
            "name": "New Planner",
            "role": "planner",
            "scope": "*",
            "_csrf": csrf_of(page.text),
        },
    )
    listing = await client.get(resp.headers["location"])
    token = listing.text.split(f"/t/{tenant.slug}/invitation/")[1].split()[0].split("<")[0]
    url = f"/t/{tenant.slug}/invitation/{token}"
    async with http_client(client._transport.app) as invitee:  # type: ignore[attr-defined]
        form = csrf_of((await invitee.get(url)).text)
        short = await invitee.post(url, data={"new": "short", "repeat": "short", "_csrf": form})
        assert short.status_code == 422 and "at least 12" in short.text
        good = {"new": "a much longer pass phrase", "repeat": "a much longer pass phrase"}
        # Another site's form cannot make this browser accept an invitation: no CSRF pair,
        # no account, and the invitation stays open.
        forged = await invitee.post(url, data=good)
        assert forged.status_code == 403 and "expired" in forged.text
        async with http_client(client._transport.app) as elsewhere:  # type: ignore[attr-defined]
            other = await elsewhere.post(url, data={**good, "_csrf": form})
            assert other.status_code == 403
        good["_csrf"] = csrf_of(forged.text)
        accepted = await invitee.post(url, data=good)
        assert accepted.status_code == 303
        assert (await invitee.get(f"/t/{tenant.slug}/")).status_code == 200
        good["_csrf"] = csrf_of((await invitee.get(url)).text)
        again = await invitee.post(url, data=good)
        assert again.status_code == 422 and "not valid" in again.text


async def test_one_time_password_must_be_changed_first(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    from tierline.platform.identity.users import SYSTEM, create_user

    async with tenant_session(tenant) as s:
        created = await create_user(s, email="otp@example.com", role="planner", actor=SYSTEM)
    assert created.one_time_password
    staff = Staff(tenant, "otp@example.com", created.one_time_password, str(created.user.id))
    resp = await sign_in(client, staff)
    assert resp.headers["location"] == f"/t/{tenant.slug}/account/password"
    # Enforced by the server, not only suggested by the redirect after sign-in:
    for page in ("/", "/notifications", "/segments"):
        blocked = await client.get(f"/t/{tenant.slug}{page}")
        assert blocked.status_code == 303, page
        assert blocked.headers["location"] == f"/t/{tenant.slug}/account/password"
    api = await client.get("/api/v1/notifications")
    assert api.status_code == 403 and "one-time password" in api.json()["detail"]
    form = await client.get(resp.headers["location"])
    changed = await client.post(
        f"/t/{tenant.slug}/account/password",
        data={
            "current": created.one_time_password,
            "new": "fresh long password 42",
            "repeat": "fresh long password 42",
            "_csrf": csrf_of(form.text),
        },
    )
    assert changed.status_code == 303
    async with tenant_session(tenant) as s:
        user = await s.get(User, created.user.id)
        assert user is not None and not user.must_change_password
    assert (await client.get(f"/t/{tenant.slug}/")).status_code == 200
    assert (await client.get("/api/v1/notifications")).status_code == 200


async def test_idle_sessions_expire(runtime: Runtime) -> None:
    import asyncio

    store = SessionStore(await runtime.redis(), idle_seconds=1)
    session = await store.create("acme", str(uuid.uuid4()), "staff", "password")
    assert await store.get(session.id) is not None
    await asyncio.sleep(1.3)
    assert await store.get(session.id) is None


async def test_security_headers(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    resp = await client.get(f"/t/{tenant.slug}/login")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in resp.headers  # plain HTTP here
    assert "<script>" not in resp.text  # no inline scripts to allow


async def test_open_redirect_after_sign_in_is_refused(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    admin = await make_staff(tenant)
    page = await client.get(f"/t/{tenant.slug}/login")
    for evil in ("https://evil.example/", "//evil.example/x", f"/t/{tenant.slug}\\@evil"):
        resp = await client.post(
            f"/t/{tenant.slug}/login",
            data={
                "email": admin.email,
                "password": admin.password,
                "next": evil,
                "_csrf": csrf_of(page.text),
            },
        )
        assert resp.headers["location"] == f"/t/{tenant.slug}/"
        page = await client.get(f"/t/{tenant.slug}/login")
