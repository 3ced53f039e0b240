"""The audit log: hash chain, append-only table, tamper detection, listing, CSV export, pages,
API and the ``verify`` command, all against the real database."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from tests.conftest import StaffFactory, TenantFactory, csrf_of
from tests.conftest import sign_in as real_sign_in
from tierline.platform import access
from tierline.platform.access import get_permission_check, register_permission_check
from tierline.platform.audit import record, verify_chain
from tierline.platform.audit.cli import audit_app
from tierline.platform.audit.export import CSV_COLUMNS
from tierline.platform.audit.models import AuditLog
from tierline.platform.audit.queries import (
    AuditFilters,
    InvalidAuditQuery,
    PageRequest,
    iter_entries,
    list_entries,
    parse_filters,
    parse_page,
)
from tierline.platform.audit.service import VerifyResult
from tierline.platform.identity.principal import Principal
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session

AUDIT_ROLES = frozenset({"audit:read", "audit:export"})


# ---------------------------------------------------------------------------------------------
# Helpers


async def append(tenant: TenantRef, count: int, **fields: Any) -> None:
    async with tenant_session(tenant) as s:
        for i in range(count):
            values: dict[str, Any] = {
                "actor": f"user{i % 5}@example.com",
                "actor_kind": "user",
                "action": "user.login" if i % 2 else "policy.change",
                "object_type": "user" if i % 2 else "policy",
                "object_id": str(i),
                "after": {"n": i},
            }
            values.update(fields)
            await record(s, **values)


async def verify(tenant: TenantRef) -> VerifyResult:
    async with tenant_session(tenant) as s:
        return await verify_chain(s)


async def tamper(tenant: TenantRef, *statements: str) -> None:
    """Run ``statements`` with the append-only triggers off, as a superuser attacker could."""
    table = f'"{tenant.schema}".audit_log'
    async with tenant_connection(tenant) as conn:
        await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            await conn.exec_driver_sql(statement.format(table=table))
        await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


_CONTENT = ["at", "actor", "actor_kind", "action", "object_type", "object_id", "before"]
_CONTENT += ["after", "reason", "request_id", "client_ip", "prev_hash", "hash"]
SWAP_5_AND_6 = (
    "UPDATE {table} AS a SET "
    + ", ".join(f"{c} = b.{c}" for c in _CONTENT)
    + " FROM {table} AS b WHERE (a.seq, b.seq) IN ((5, 6), (6, 5))"
)


def staff(tenant: TenantRef, email: str = "auditor@example.com") -> Principal:
    return Principal(tenant=tenant, subject=str(uuid.uuid4()), kind="staff", display=email)


SignIn = Callable[..., None]


@pytest.fixture
async def sign_in(client: AsyncClient) -> AsyncIterator[SignIn]:
    """Stand in for the sign-in layer: the next requests act as the given principal.

    Registered after ``client`` started the app (whose start-up installs the real check), and
    put back afterwards.
    """
    previous = get_permission_check("tenant")
    current: dict[str, Any] = {"principal": None, "granted": frozenset()}

    async def check(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler, permission: str
    ) -> None:
        if current["principal"] is None:
            raise NotAuthorizedException("sign-in is required")
        if permission not in current["granted"]:
            raise PermissionDeniedException(f"not allowed ({permission})")
        connection.state.principal = current["principal"]

    def act_as(principal: Principal | None, granted: Iterable[str] = AUDIT_ROLES) -> None:
        current["principal"], current["granted"] = principal, frozenset(granted)

    register_permission_check("tenant", check)
    try:
        yield act_as
    finally:
        if previous is None:
            access._checks.pop("tenant", None)  # there is no public "unregister"
        else:
            register_permission_check("tenant", previous)


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


# ---------------------------------------------------------------------------------------------
# The chain and the table


async def test_fifty_entries_verify(tenant: TenantRef) -> None:
    await append(tenant, 50)
    result = await verify(tenant)
    assert result == VerifyResult(ok=True, checked=50)


async def test_an_empty_log_verifies(tenant: TenantRef) -> None:
    assert await verify(tenant) == VerifyResult(ok=True, checked=0)


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", "UPDATE"),
        ("DELETE FROM audit_log WHERE seq = 2", "DELETE"),
        ("TRUNCATE audit_log", "TRUNCATE"),
    ],
)
async def test_the_database_refuses_changes(
    tenant: TenantRef, statement: str, operation: str
) -> None:
    await append(tenant, 3)
    with pytest.raises(DBAPIError) as caught:
        async with tenant_connection(tenant) as conn:
            await conn.exec_driver_sql(statement)
    assert f"audit_log is append-only: {operation} refused" in str(caught.value)
    assert getattr(caught.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    assert await verify(tenant) == VerifyResult(ok=True, checked=3)


@pytest.mark.parametrize(
    ("statements", "broken_seq", "reason"),
    [
        (["UPDATE {table} SET actor = 'mallory' WHERE seq = 7"], 7, "does not match its hash"),
        (["UPDATE {table} SET after = '{{\"n\": 999}}' WHERE seq = 30"], 30, "does not match"),
        (["DELETE FROM {table} WHERE seq = 7"], 7, "entry 7 is missing"),
        ([SWAP_5_AND_6], 5, "link to the previous entry is broken"),
        (["DELETE FROM {table} WHERE seq > 45"], 46, "ends at entry 45 but the head records 50"),
    ],
    ids=["edited-actor", "edited-after", "deleted", "reordered", "tail-removed"],
)
async def test_tampering_is_detected(
    tenant: TenantRef, statements: list[str], broken_seq: int, reason: str
) -> None:
    await append(tenant, 50)
    await tamper(tenant, *statements)
    result = await verify(tenant)
    assert not result.ok
    assert result.broken_seq == broken_seq
    assert reason in (result.reason or "")
    assert result.checked == broken_seq - 1


async def test_triggers_are_back_after_tampering(tenant: TenantRef) -> None:
    await append(tenant, 2)
    await tamper(tenant, "UPDATE {table} SET reason = 'x' WHERE seq = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        async with tenant_connection(tenant) as conn:
            await conn.exec_driver_sql("DELETE FROM audit_log")


async def test_concurrent_appends_form_one_chain(tenant: TenantRef) -> None:
    async def one(i: int) -> int:
        async with tenant_session(tenant) as s:
            entry = await record(
                s, actor=f"task{i}", actor_kind="system", action="test.append", object_type="t"
            )
            return entry.seq

    seqs = await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(seqs) == list(range(1, 21))
    assert await verify(tenant) == VerifyResult(ok=True, checked=20)
    async with tenant_session(tenant) as s:
        actors = set((await s.execute(select(AuditLog.actor))).scalars())
    assert actors == {f"task{i}" for i in range(20)}


# ---------------------------------------------------------------------------------------------
# The command line


async def test_cli_verify_reports_ok_then_broken(tenant: TenantRef) -> None:
    await append(tenant, 12)
    runner = CliRunner()
    # The command runs its own event loop (asyncio.run), so it runs in a thread here.
    ok = await asyncio.to_thread(runner.invoke, audit_app, ["verify", "--tenant", tenant.slug])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == "OK: 12 entries verified"

    await tamper(tenant, "UPDATE {table} SET reason = 'covered up' WHERE seq = 4")
    broken = await asyncio.to_thread(runner.invoke, audit_app, ["verify", "--tenant", tenant.slug])
    assert broken.exit_code == 1
    assert broken.stdout.strip() == "BROKEN at entry 4: entry content does not match its hash"


async def test_cli_verify_unknown_tenant(runtime: Any) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, audit_app, ["verify", "--tenant", "no_such_tenant"]
    )
    assert result.exit_code == 1
    assert "no active tenant 'no_such_tenant'" in result.output


# ---------------------------------------------------------------------------------------------
# Queries


def test_filters_parse_and_name_the_bad_field() -> None:
    f = parse_filters({"actor": " bob ", "action": "user.*", "from": "2026-03-01", "to": ""})
    assert f.actor == "bob" and f.action is None and f.action_prefix == "user."
    assert f.at_from == datetime(2026, 3, 1, tzinfo=UTC) and f.at_until is None
    assert f.params == {"actor": "bob", "action": "user.*", "from": "2026-03-01"}
    whole_day = parse_filters({"to": "2026-03-31"})
    assert whole_day.at_until == datetime(2026, 4, 1, tzinfo=UTC)
    offset = parse_filters({"from": "2026-03-01T10:00+02:00"})
    assert offset.at_from == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    for raw, field in [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"action": "a*b"}, "action"),
        ({"actor": "x\x00"}, "actor"),
        ({"object_id": "x" * 501}, "object_id"),
    ]:
        with pytest.raises(InvalidAuditQuery) as caught:
            parse_filters(raw)
        assert caught.value.field == field
        assert str(caught.value).startswith(f"{field}: ")

    for raw, field in [
        ({"limit": "201"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"before": "x"}, "before"),
        ({"before": "5", "after": "2"}, "after"),
    ]:
        with pytest.raises(InvalidAuditQuery) as caught:
            parse_page(raw)
        assert caught.value.field == field
    assert parse_page({"limit": "200", "before": "9"}) == PageRequest(before=9, limit=200)


async def test_keyset_paging_walks_every_entry_once(tenant: TenantRef) -> None:
    await append(tenant, 23)
    seen: list[int] = []
    async with tenant_session(tenant) as s:
        page = await list_entries(s, AuditFilters(), PageRequest(limit=5))
        assert page.newer is None
        while True:
            seen.extend(e.seq for e in page.entries)
            if page.older is None:
                break
            page = await list_entries(s, AuditFilters(), PageRequest(before=page.older, limit=5))
            assert page.newer == page.entries[0].seq
        assert seen == list(range(23, 0, -1))
        # And back towards the newest: the page just newer than entries 8..4.
        back = await list_entries(s, AuditFilters(), PageRequest(after=8, limit=5))
        assert [e.seq for e in back.entries] == [13, 12, 11, 10, 9]
        assert (back.newer, back.older) == (13, 9)
        top = await list_entries(s, AuditFilters(), PageRequest(after=20, limit=5))
        assert [e.seq for e in top.entries] == [23, 22, 21, 20, 19]  # a full first page
        assert top.newer is None


async def test_filters_select_the_right_entries(tenant: TenantRef) -> None:
    await append(tenant, 20)
    await append(tenant, 1, actor="Odd_%Name@Example.com", action="user.logout")
    async with tenant_session(tenant) as s:

        async def seqs(**raw: str) -> list[int]:
            page = await list_entries(s, parse_filters(raw), PageRequest(limit=200))
            return [e.seq for e in page.entries]

        assert await seqs(action="user.login") == list(range(20, 0, -2))
        assert await seqs(action="user.*") == [21, *range(20, 0, -2)]
        assert await seqs(action="user") == []  # exact unless it ends with *
        assert await seqs(actor="user3") == [19, 14, 9, 4]
        assert await seqs(actor="odd_%name") == [21]  # any case; % and _ are literal
        assert await seqs(actor="%") == [21]
        assert await seqs(object_type="policy", object_id="4") == [5]
        future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        assert await seqs(**{"from": future}) == []
        assert await seqs(to="2000-01-01") == []
        assert len(await seqs(**{"from": "2000-01-01", "to": future})) == 21


async def test_iter_entries_streams_in_batches_in_chain_order(tenant: TenantRef) -> None:
    await append(tenant, 30)
    async with tenant_session(tenant) as s:
        everything = [e.seq async for e in iter_entries(s, AuditFilters(), batch=7)]
        bounded = [e.seq async for e in iter_entries(s, AuditFilters(), upto_seq=14, batch=7)]
        logins = [
            e.seq async for e in iter_entries(s, parse_filters({"action": "user.login"}), batch=4)
        ]
    assert everything == list(range(1, 31))
    assert bounded == list(range(1, 15))
    assert logins == list(range(2, 31, 2))


# ---------------------------------------------------------------------------------------------
# CSV export


async def test_csv_export_is_inert_complete_and_audited(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    await append(tenant, 3)
    await append(
        tenant,
        1,
        actor="=cmd|' /C calc'!A0",
        action="@x",
        object_id="+1+A1",
        reason="-1",
        before={"k": "=1+1"},
        after=None,
    )
    sign_in(staff(tenant, "exporter@example.com"))
    resp = await client.get(f"/t/{tenant.slug}/audit.csv")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"  # one charset
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"audit-{tenant.slug}-" in disposition
    assert resp.content.startswith("\ufeff".encode())  # the BOM Excel needs for UTF-8
    assert resp.text.splitlines()[0] == "\ufeff" + ",".join(CSV_COLUMNS)

    rows = parse_csv(resp.text)
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5"]  # 5: the export itself
    evil = rows[3]
    assert evil["actor"] == "'=cmd|' /C calc'!A0"
    assert evil["action"] == "'@x"
    assert evil["object_id"] == "'+1+A1"
    assert evil["reason"] == "-1"  # a plain signed number stays a number
    assert evil["before"] == '{"k":"=1+1"}' and evil["after"] == ""
    assert evil["at"].endswith("Z") and len(evil["hash"]) == 64
    assert datetime.fromisoformat(evil["at"]).tzinfo is not None
    assert rows[0]["after"] == '{"n":0}'

    export = rows[4]
    assert (export["action"], export["actor"], export["actor_kind"]) == (
        "audit.export",
        "exporter@example.com",
        "user",
    )
    assert export["after"] == '{"filters":{},"format":"csv"}'
    assert export["request_id"] == resp.headers["x-request-id"]
    assert (await verify(tenant)).ok


async def test_csv_export_applies_and_records_filters(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    await append(tenant, 10)
    sign_in(staff(tenant))
    resp = await client.get(f"/t/{tenant.slug}/audit.csv", params={"action": "user.*", "to": ""})
    rows = parse_csv(resp.text)
    assert [r["seq"] for r in rows] == ["2", "4", "6", "8", "10"]  # the export is audit.export
    async with tenant_session(tenant) as s:
        last = (await s.execute(select(AuditLog).order_by(AuditLog.seq.desc()))).scalars().first()
    assert last is not None and last.action == "audit.export"
    assert last.after == {"format": "csv", "filters": {"action": "user.*"}}


async def test_csv_needs_the_export_permission(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    sign_in(staff(tenant), granted={"audit:read"})
    resp = await client.get(f"/t/{tenant.slug}/audit.csv")
    assert resp.status_code == 403
    assert await verify(tenant) == VerifyResult(ok=True, checked=0)  # nothing was exported


async def test_csv_bad_filter_is_refused_before_anything_is_recorded(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    sign_in(staff(tenant))
    resp = await client.get(f"/t/{tenant.slug}/audit.csv", params={"from": "31/12/2026"})
    assert resp.status_code == 422
    assert "from: &#39;31/12/2026&#39; is not a date or time" in resp.text
    assert (await verify(tenant)).checked == 0


# ---------------------------------------------------------------------------------------------
# The page


async def test_page_lists_filters_and_pages(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    await append(tenant, 30)
    sign_in(staff(tenant))
    resp = await client.get(f"/t/{tenant.slug}/audit", params={"limit": "25"})
    assert resp.status_code == 200, resp.text
    html = resp.text
    assert "<h1>Audit log</h1>" in html and 'class="table-wrap"' in html
    assert '<th scope="row">30</th>' in html and '<th scope="row">6</th>' in html
    assert '<th scope="row">5</th>' not in html
    assert f'href="/t/{tenant.slug}/audit?limit=25&amp;before=6"' in html  # older
    assert "Newer" not in html and "Chain verified" not in html
    assert "<script" not in html.split("</head>", 1)[1]  # no inline scripts in the body
    for name in ("actor", "action", "object_type", "object_id", "from", "to", "limit"):
        assert f'<label for="f-{name}">' in html and f'id="f-{name}"' in html

    older = await client.get(f"/t/{tenant.slug}/audit", params={"limit": "25", "before": "6"})
    assert '<th scope="row">5</th>' in older.text and '<th scope="row">6</th>' not in older.text
    assert f'href="/t/{tenant.slug}/audit?limit=25&amp;after=5"' in older.text  # newer

    filtered = await client.get(f"/t/{tenant.slug}/audit", params={"actor": "user4"})
    assert filtered.text.count('<th scope="row">') == 6
    assert f'href="/t/{tenant.slug}/audit.csv?actor=user4"' in filtered.text
    assert 'value="user4"' in filtered.text


async def test_page_verifies_only_when_asked(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    await append(tenant, 8)
    sign_in(staff(tenant))
    ok = await client.get(f"/t/{tenant.slug}/audit", params={"verify": "1"})
    assert "Chain verified: all 8 entries are intact" in ok.text
    await tamper(tenant, "DELETE FROM {table} WHERE seq = 3")
    plain = await client.get(f"/t/{tenant.slug}/audit")
    assert "Chain" not in plain.text.split("Integrity", 1)[1].split("<form", 1)[0]
    broken = await client.get(f"/t/{tenant.slug}/audit", params={"verify": "1"})
    assert "Chain broken at entry 3: entry 3 is missing" in broken.text


async def test_page_explains_a_bad_date(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    sign_in(staff(tenant))
    resp = await client.get(f"/t/{tenant.slug}/audit", params={"to": "tomorrow"})
    assert resp.status_code == 422
    assert "to: &#39;tomorrow&#39; is not a date or time" in resp.text
    assert 'aria-invalid="true"' in resp.text and 'value="tomorrow"' in resp.text
    assert "Download CSV" not in resp.text  # it would export unfiltered


async def test_page_and_csv_are_404_for_another_tenants_principal(
    client: AsyncClient, sign_in: SignIn, make_tenant: TenantFactory
) -> None:
    a, b = await make_tenant(), await make_tenant()
    await append(b, 2)
    sign_in(staff(a))
    for path in (f"/t/{b.slug}/audit", f"/t/{b.slug}/audit.csv"):
        resp = await client.get(path, headers={"accept": "text/html"})
        assert resp.status_code == 404, path
        assert "user0@example.com" not in resp.text
    assert (await client.get(f"/t/{a.slug}/audit")).status_code == 200
    assert (await verify(b)).checked == 2  # no export was recorded in b
    assert (await verify(a)).checked == 0


async def test_unknown_tenant_page_is_404(client: AsyncClient, sign_in: SignIn) -> None:
    sign_in(staff(TenantRef(uuid.uuid4(), "no_such_tenant", "Nobody", "eu")))
    assert (await client.get("/t/no_such_tenant/audit")).status_code == 404


# ---------------------------------------------------------------------------------------------
# The API


async def test_api_lists_the_principals_tenant_only(
    client: AsyncClient, sign_in: SignIn, make_tenant: TenantFactory
) -> None:
    a, b = await make_tenant(), await make_tenant()
    await append(a, 7)
    await append(b, 3, actor="b-user@example.com")
    sign_in(staff(a))
    resp = await client.get(
        "/api/v1/audit", params={"limit": "3", "tenant": b.slug, "action": "policy.*"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [e["seq"] for e in body["items"]] == [7, 5, 3]
    assert body["next_cursor"]
    first = body["items"][0]
    assert first["action"] == "policy.change" and first["after"] == {"n": 6}
    assert len(first["hash"]) == 64 and len(first["prev_hash"]) == 64
    assert all("b-user" not in e["actor"] for e in body["items"])

    more = (await client.get("/api/v1/audit", params={"cursor": body["next_cursor"]})).json()
    assert [e["seq"] for e in more["items"]] == [2, 1] and more["next_cursor"] is None


async def test_api_refuses_bad_input_naming_the_field(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    sign_in(staff(tenant))
    resp = await client.get("/api/v1/audit", params={"from": "2026-13-01"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["detail"].startswith("from: '2026-13-01' is not a date")
    too_many = await client.get("/api/v1/audit", params={"limit": "500"})
    assert too_many.status_code == 400 and too_many.json()["detail"].startswith("limit:")
    foreign = await client.get("/api/v1/audit", params={"cursor": "3"})
    assert foreign.status_code == 400 and foreign.json()["detail"].startswith("cursor:")


async def test_api_is_404_for_a_principal_of_an_unknown_tenant(
    client: AsyncClient, sign_in: SignIn, tenant: TenantRef
) -> None:
    sign_in(staff(TenantRef(uuid.uuid4(), "no_such_tenant", "Nobody", "eu")))
    assert (await client.get("/api/v1/audit")).status_code == 404
    # Same slug, another tenant's id (a deleted and re-created tenant): still not this log.
    sign_in(staff(TenantRef(uuid.uuid4(), tenant.slug, tenant.name, tenant.region)))
    assert (await client.get("/api/v1/audit")).status_code == 404


def test_routes_declare_their_permissions() -> None:
    from tierline.platform.audit.controllers import audit_api, audit_csv, audit_page

    assert access.declared_permission(audit_page) == "audit:read"
    assert access.declared_permission(audit_csv) == "audit:export"
    assert access.declared_permission(audit_api) == "audit:read"


async def test_without_sign_in_the_api_is_401(client: AsyncClient, sign_in: SignIn) -> None:
    sign_in(None)
    assert (await client.get("/api/v1/audit")).status_code == 401


# ---------------------------------------------------------------------------------------------
# Through the real sign-in layer


async def test_real_sign_in_auditor_reads_and_exports_analyst_does_not(
    client: AsyncClient, make_tenant: TenantFactory, make_staff: StaffFactory
) -> None:
    a, b = await make_tenant(), await make_tenant()
    auditor = await make_staff(a, role="auditor")
    signed = await real_sign_in(client, auditor)
    assert signed.status_code in (302, 303), signed.text
    page = await client.get(f"/t/{a.slug}/audit")
    assert page.status_code == 200 and "<h1>Audit log</h1>" in page.text
    export = await client.get(f"/t/{a.slug}/audit.csv")
    assert export.status_code == 200
    assert parse_csv(export.text)[-1]["actor"] == auditor.email
    assert (await client.get(f"/t/{b.slug}/audit")).status_code == 404
    assert (await client.get("/api/v1/audit")).status_code == 200

    analyst = await make_staff(a, role="analyst")
    await client.post(f"/t/{a.slug}/logout", data={"_csrf": csrf_of(page.text)})
    client.cookies.clear()
    await real_sign_in(client, analyst)
    assert (await client.get(f"/t/{a.slug}/audit")).status_code == 403
    assert (await client.get(f"/t/{a.slug}/audit.csv")).status_code == 403
