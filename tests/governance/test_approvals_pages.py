"""The approval queue, the request form, decision rights and the governance API over HTTP:
maker-checker and scopes as the pages show them, bulk decisions with a mandatory reason
(per-item refusals), and isolation (other tenants and portal users get 404)."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import httpx
from litestar import Litestar
from sqlalchemy import select

from tests.conftest import Staff, StaffFactory, TenantFactory, csrf_of, http_client, sign_in
from tests.governance.test_overrides import Setup, file_request, setup_scheme
from tierline.governance import controllers as governance_controllers
from tierline.governance import overrides
from tierline.governance.models import OverrideRequest
from tierline.platform.identity.users import Actor
from tierline.platform.routing import declared_handlers
from tierline.platform.tenancy import TenantRef, tenant_session

TODAY = datetime.now(UTC).date()
PAGES = [
    ("GET", "/t/{slug}/approvals"),
    ("POST", "/t/{slug}/approvals"),
    ("GET", "/t/{slug}/overrides/new"),
    ("POST", "/t/{slug}/overrides/new"),
    ("GET", "/t/{slug}/governance/decision-rights"),
]
API = [
    ("POST", "/api/v1/overrides"),
    ("GET", "/api/v1/overrides"),
    ("POST", "/api/v1/overrides/{id}:decide"),
    ("GET", "/api/v1/approvals"),
]


async def signed_in(stack: AsyncExitStack, app: Litestar, staff: Staff) -> httpx.AsyncClient:
    client = await stack.enter_async_context(http_client(app))
    response = await sign_in(client, staff)
    assert response.status_code in (200, 303), response.text[:300]
    return client


async def csrf(client: httpx.AsyncClient, slug: str) -> str:
    page = await client.get(f"/t/{slug}/approvals")
    return csrf_of(page.text)


async def status_of(tenant: TenantRef, request_id: int) -> str:
    async with tenant_session(tenant) as s:
        row = await s.get(OverrideRequest, request_id)
        assert row is not None
        return row.status


def test_every_governance_route_declares_its_permission() -> None:
    from tierline.platform import access

    for handler in declared_handlers(governance_controllers.ROUTES):
        assert access.declared_permission(handler), handler


async def test_request_form_then_queue_then_bulk_decision(
    app: Litestar, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    gov = await setup_scheme(seeded_tenant)
    slug = seeded_tenant.slug
    manager = await make_staff(seeded_tenant, "account_manager")
    planner = await make_staff(seeded_tenant, "planner")
    customer, jumper = gov.customers[0], gov.customers[1]  # B and C
    async with AsyncExitStack() as stack:
        am = await signed_in(stack, app, manager)
        form = await am.get(
            f"/t/{slug}/overrides/new", params={"scheme": gov.code, "entity": customer}
        )
        assert form.status_code == 200 and "Segment in force" in form.text
        token = csrf_of(form.text)
        data = {
            "_csrf": token,
            "scheme": gov.code,
            "entity": customer,
            "to_segment": "A",
            "reason": "",
            "evidence": "https://crm.example.com/x\nnote",
            "expires_on": (TODAY + timedelta(days=60)).isoformat(),
        }
        missing = await am.post(f"/t/{slug}/overrides/new", data=data)
        assert missing.status_code == 422 and "reason" in missing.text
        made = await am.post(f"/t/{slug}/overrides/new", data={**data, "reason": "launch"})
        assert made.status_code == 303 and "/approvals" in made.headers["location"]
        async with tenant_session(seeded_tenant) as s:
            row = (
                await s.execute(
                    select(OverrideRequest).where(
                        OverrideRequest.scheme_code == gov.code,
                        OverrideRequest.entity_key == customer,
                    )
                )
            ).scalar_one()
            first = row.id
            assert row.requested_by == manager.email and row.evidence == [
                "https://crm.example.com/x",
                "note",
            ]
        major = await file_request(gov, jumper, "A", actor=Actor(manager.email))

        # the account manager sees the queue read-only (no approve right, own requests)
        queue = await am.get(f"/t/{slug}/approvals", params={"scheme": gov.code})
        assert queue.status_code == 200 and f"override #{first}" in queue.text
        assert 'name="item"' not in queue.text

        pl = await signed_in(stack, app, planner)
        queue = await pl.get(
            f"/t/{slug}/approvals", params={"scheme": gov.code, "kind": "override"}
        )
        assert f'value="override:{first}"' in queue.text
        assert f'value="override:{major}"' not in queue.text  # jump of 2: read-only
        assert "governance board" in queue.text
        token = csrf_of(queue.text)
        items = [f"override:{first}", f"override:{major}"]
        no_reason = await pl.post(
            f"/t/{slug}/approvals",
            data={"_csrf": token, "item": items, "decision": "approve", "reason": " "},
        )
        assert no_reason.status_code == 422
        assert await status_of(seeded_tenant, first) == "pending"
        # a forged tick on the major item: refused on its own, the other applied
        mixed = await pl.post(
            f"/t/{slug}/approvals",
            data={"_csrf": token, "item": items, "decision": "approve", "reason": "ok"},
        )
        assert mixed.status_code == 200
        assert f"override:{major}" in mixed.text and "governance board" in mixed.text
        assert await status_of(seeded_tenant, first) == "approved"
        assert await status_of(seeded_tenant, major) == "pending"

        # the board approves the major one through the page
        board = await make_staff(seeded_tenant, "approver")
        bd = await signed_in(stack, app, board)
        queue = await bd.get(f"/t/{slug}/approvals", params={"scheme": gov.code})
        assert f'value="override:{major}"' in queue.text
        done = await bd.post(
            f"/t/{slug}/approvals",
            data={
                "_csrf": csrf_of(queue.text),
                "item": [f"override:{major}"],
                "decision": "approve",
                "reason": "board decision",
            },
        )
        assert done.status_code == 303 and "1+approved" in done.headers["location"]
        assert await status_of(seeded_tenant, major) == "approved"


async def test_queue_respects_scope_and_maker_checker(
    app: Litestar, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    gov = await setup_scheme(seeded_tenant)
    slug = seeded_tenant.slug
    planner = await make_staff(seeded_tenant, "planner")
    regional = await make_staff(seeded_tenant, "planner", scope="zz_other")
    customer = gov.customers[0]
    own = await file_request(gov, customer, "A", actor=Actor(planner.email))
    async with AsyncExitStack() as stack:
        pl = await signed_in(stack, app, planner)
        queue = await pl.get(f"/t/{slug}/approvals", params={"scheme": gov.code})
        assert f"override #{own}" in queue.text and "your own" in queue.text
        assert f'value="override:{own}"' not in queue.text
        token = csrf_of(queue.text)
        forged = await pl.post(
            f"/t/{slug}/approvals",
            data={
                "_csrf": token,
                "item": [f"override:{own}"],
                "decision": "approve",
                "reason": "x",
            },
        )
        assert forged.status_code == 409 and "maker-checker" in forged.text
        api = await pl.post(
            f"/api/v1/overrides/{own}:decide",
            json={"decision": "approve", "reason": "x"},
            headers={"X-CSRF-Token": token},
        )
        assert api.status_code == 403 and "your own" in api.text
        assert await status_of(seeded_tenant, own) == "pending"

        rg = await signed_in(stack, app, regional)
        queue = await rg.get(f"/t/{slug}/approvals", params={"scheme": gov.code})
        assert f"override #{own}" not in queue.text  # not in the regional planner's scopes
        api = await rg.post(
            f"/api/v1/overrides/{own}:decide",
            json={"decision": "approve", "reason": "x"},
            headers={"X-CSRF-Token": await csrf(rg, slug)},
        )
        assert api.status_code == 403 and "scope" in api.text
        assert await status_of(seeded_tenant, own) == "pending"


async def test_json_api_request_list_decide(
    app: Litestar, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    gov = await setup_scheme(seeded_tenant)
    slug = seeded_tenant.slug
    manager = await make_staff(seeded_tenant, "account_manager")
    planner = await make_staff(seeded_tenant, "planner")
    customer = gov.customers[0]
    async with AsyncExitStack() as stack:
        am = await signed_in(stack, app, manager)
        token = await csrf(am, slug)
        body = {
            "scheme": gov.code,
            "entity_key": customer,
            "to_segment": "A",
            "reason": "strategic",
            "evidence": ["https://crm.example.com/1"],
            "expires_on": (TODAY + timedelta(days=30)).isoformat(),
        }
        bad = await am.post(
            "/api/v1/overrides",
            json={**body, "expires_on": "yesterday"},
            headers={"X-CSRF-Token": token},
        )
        assert bad.status_code == 422
        made = await am.post("/api/v1/overrides", json=body, headers={"X-CSRF-Token": token})
        assert made.status_code == 201, made.text
        request_id = made.json()["id"]
        assert made.json()["tier_jump"] == 1 and made.json()["status"] == "pending"
        listed = await am.get("/api/v1/overrides", params={"scheme": gov.code})
        assert [i["id"] for i in listed.json()["items"]] == [request_id]
        forbidden = await am.post(
            f"/api/v1/overrides/{request_id}:decide",
            json={"decision": "approve", "reason": "x"},
            headers={"X-CSRF-Token": token},
        )
        assert forbidden.status_code == 403  # account managers never approve

        pl = await signed_in(stack, app, planner)
        token = await csrf(pl, slug)
        queue = await pl.get("/api/v1/approvals", params={"scheme": gov.code})
        item = next(i for i in queue.json()["items"] if i["ref"] == f"override:{request_id}")
        assert item["decidable"] and item["tier_jump"] == 1 and item["conflicts"] == []
        no_reason = await pl.post(
            f"/api/v1/overrides/{request_id}:decide",
            json={"decision": "approve", "reason": ""},
            headers={"X-CSRF-Token": token},
        )
        assert no_reason.status_code == 422
        decided = await pl.post(
            f"/api/v1/overrides/{request_id}:decide",
            json={"decision": "approve", "reason": "fine"},
            headers={"X-CSRF-Token": token},
        )
        assert decided.status_code == 200 and decided.json()["status"] == "approved"
        again = await pl.post(
            f"/api/v1/overrides/{request_id}:decide",
            json={"decision": "reject", "reason": "fine"},
            headers={"X-CSRF-Token": token},
        )
        assert again.status_code == 409 and "approved already" in again.text
        unknown = await pl.post(
            "/api/v1/overrides/999999999:decide",
            json={"decision": "approve", "reason": "x"},
            headers={"X-CSRF-Token": token},
        )
        assert unknown.status_code == 404
        history = await pl.get("/api/v1/overrides", params={"scheme": gov.code, "status": "all"})
        assert [i["status"] for i in history.json()["items"]] == ["approved"]


async def test_decision_rights_page_lists_roles_and_people(
    app: Litestar, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    board = await make_staff(seeded_tenant, "approver", scope="zz_board")
    analyst = await make_staff(seeded_tenant, "analyst")
    async with AsyncExitStack() as stack:
        client = await signed_in(stack, app, analyst)
        page = await client.get(f"/t/{seeded_tenant.slug}/governance/decision-rights")
        assert page.status_code == 200
        assert "overrides:approve_major" in page.text and "Governance board member" in page.text
        row = re.search(rf"{re.escape(board.email)}</th>(.*?)</tr>", page.text, re.S)
        assert row and "zz_board" in row.group(1) and "approve major" in row.group(1)
        assert f"{analyst.email}</th>" not in page.text  # analysts hold no governance right


async def test_other_tenants_and_portal_users_get_404(
    app: Litestar,
    seeded_tenant: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    gov: Setup = await setup_scheme(seeded_tenant)
    request_id = await file_request(gov, gov.customers[0], "A")
    other_tenant = await make_tenant()
    outsider = await make_staff(other_tenant, "admin")
    portal = await make_staff(seeded_tenant, "customer", customer=gov.customers[0])
    slug = seeded_tenant.slug
    async with AsyncExitStack() as stack:
        other = await signed_in(stack, app, outsider)
        token = await csrf(other, other_tenant.slug)
        for method, path in PAGES:
            response = await other.request(
                method, path.format(slug=slug), data={"_csrf": token} if method == "POST" else None
            )
            assert response.status_code == 404, (method, path, response.status_code)
        listed = await other.get("/api/v1/overrides", params={"status": "all"})
        assert listed.status_code == 200 and listed.json()["items"] == []
        queue = await other.get("/api/v1/approvals")
        assert queue.status_code == 200 and queue.json()["items"] == []
        decided = await other.post(
            f"/api/v1/overrides/{request_id}:decide",
            json={"decision": "approve", "reason": "x"},
            headers={"X-CSRF-Token": token},
        )
        assert decided.status_code == 404

        customer = await stack.enter_async_context(http_client(app))
        signed = await customer.post(
            f"/t/{slug}/login",
            data={
                "email": portal.email,
                "password": portal.password,
                "_csrf": csrf_of((await customer.get(f"/t/{slug}/login")).text),
            },
        )
        assert signed.status_code in (200, 303, 400, 401, 403, 404)
        for method, path in [*PAGES, *API]:
            url = path.format(slug=slug, id=request_id)
            response = await customer.request(method, url)
            assert response.status_code in (401, 403, 404) or (
                response.status_code in (302, 303) and "/login" in response.headers["location"]
            ), (method, path, response.status_code)
    assert await status_of(seeded_tenant, request_id) == "pending"
    async with tenant_session(seeded_tenant) as s:
        current = await overrides.open_assignment(s, gov.code, gov.customers[0])
        assert current is not None and current.segment == "B"


async def test_run_moves_share_the_queue_and_notify_the_customer(
    app: Litestar, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    import uuid

    from tierline.governance.models import CustomerNotice
    from tierline.segmentation.models import PendingMove, SegmentationRun

    gov = await setup_scheme(seeded_tenant)
    customer, jumper = gov.customers[0], gov.customers[1]  # B and C
    run_id = uuid.uuid4()
    async with tenant_session(seeded_tenant) as s:
        s.add(
            SegmentationRun(
                id=run_id,
                scheme_code=gov.code,
                version=1,
                content_hash="sha256:test",
                engine_version="test",
                as_of=TODAY,
                status="succeeded",
                trigger="manual",
            )
        )
        await s.flush()
        moves = [
            PendingMove(
                run_id=run_id,
                scheme_code=gov.code,
                entity_key=key,
                customer_code=key,
                from_segment=start,
                to_segment="A",
                reasons=reasons,
                source="rule",
            )
            for key, start, reasons in ((customer, "B", ["spike"]), (jumper, "C", ["tier_jump"]))
        ]
        s.add_all(moves)
        await s.flush()
        move_id, jump_id = moves[0].id, moves[1].id
    planner = await make_staff(seeded_tenant, "planner")
    slug = seeded_tenant.slug
    async with AsyncExitStack() as stack:
        pl = await signed_in(stack, app, planner)
        queue = await pl.get(f"/t/{slug}/approvals", params={"scheme": gov.code, "kind": "move"})
        assert f'value="move:{move_id}"' in queue.text
        assert f'value="move:{jump_id}"' not in queue.text and "governance board" in queue.text
        result = await pl.post(
            f"/t/{slug}/approvals",
            data={
                "_csrf": csrf_of(queue.text),
                "item": [f"move:{move_id}", f"move:{jump_id}"],
                "decision": "approve",
                "reason": "confirmed with sales",
            },
        )
        assert result.status_code == 200 and f"move:{jump_id}" in result.text
    async with tenant_session(seeded_tenant) as s:
        statuses = dict(
            (
                await s.execute(
                    select(PendingMove.id, PendingMove.status).where(
                        PendingMove.id.in_([move_id, jump_id])
                    )
                )
            ).all()
        )
        assert statuses == {move_id: "applied", jump_id: "pending"}
        current = await overrides.open_assignment(s, gov.code, customer)
        assert current is not None and current.segment == "A"
        notices = (
            await s.execute(
                select(CustomerNotice.kind, CustomerNotice.new_segment).where(
                    CustomerNotice.scheme_code == gov.code
                )
            )
        ).all()
        assert [tuple(n) for n in notices] == [("segment_change", "A")]
