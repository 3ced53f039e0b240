"""The segmentation JSON API: schemes (draft, validation, publish, dry run), runs, assignments
(paging, as-of), exports, conflicts, timeline and decisions on pending moves — through the real
sign-in layer, bearer tokens and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, select

from tests.conftest import StaffFactory, sign_in
from tierline.masterdata.models import Customer, Product
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.clients import create_client
from tierline.platform.identity.users import Actor
from tierline.platform.jobs.worker import execute_job
from tierline.platform.notifications.models import Notification
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import (
    PendingMove,
    RunResult,
    SegmentAssignment,
    SegmentationRun,
)
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish

ACTOR = Actor("planner@example.com")
NOW = datetime.now(UTC)
T0 = NOW - timedelta(days=10)
T1 = NOW - timedelta(days=5)
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
CODE = "lightweight_abc"


@dataclass(frozen=True)
class History:
    """A tenant with a published customer scheme, one run, assignment history and moves."""

    tenant: TenantRef
    run_id: uuid.UUID
    moves: dict[str, int]  # customer code -> pending move id


async def build_history(tenant: TenantRef) -> History:
    """Customers C1..C5 (and P1) with a hand-written run of ``lightweight_abc`` (A > B > C):

    - C1 strategic/platinum in C (under-served), C2 bronze in A (over-served, formula name),
      C3 gold in B, C4 silver A until T1 then B, C5 no tier in C;
    - pending moves: C1 C->A (spike), C3 B->A (tier_jump), C5 C->B (share_moving).
    """
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(Customer),
            [
                {"code": "C1", "name": "Acme", "account_type": "sold_to", "strategic": True,
                 "crm_tier": "platinum", "account_manager_email": "am1@example.com"},
                {"code": "C2", "name": FORMULA_NAME, "account_type": "sold_to",
                 "crm_tier": "bronze"},
                {"code": "C3", "name": "Gamma", "account_type": "sold_to", "crm_tier": "gold",
                 "account_manager_email": "am3@example.com"},
                {"code": "C4", "name": "Delta", "account_type": "sold_to", "crm_tier": "silver"},
                {"code": "C5", "name": "Epsilon", "account_type": "sold_to"},
            ],
        )  # fmt: skip
        await s.execute(insert(Product), [{"sku": "P1", "description": "Widget", "base_uom": "EA"}])
        parsed = await create_scheme(s, load_template("lightweight"), ACTOR)
        version = await publish(s, parsed.scheme.code, ACTOR)
        run_id = uuid.uuid4()
        s.add(
            SegmentationRun(
                id=run_id,
                scheme_code=CODE,
                version=version.version,
                content_hash=version.content_hash,
                engine_version="test",
                as_of=T1.date(),
                status="succeeded",
                trigger="manual",
                requested_by=ACTOR.name,
                started_at=T1,
                finished_at=T1,
                inputs={"as_of": T1.date().isoformat(), "entities": 5, "order_lines": 9},
                counts={"entities": 5, "outcomes": {"applied": 1, "pending": 3, "unchanged": 1},
                        "segments": {"A": 3, "B": 1, "C": 1}},
                warnings=["stale: feed 'erp' is late"],
            )
        )  # fmt: skip
        await s.flush()
        results = [("C1", "A", "C", "pending", "A"), ("C2", "A", "A", "unchanged", "A"),
                   ("C3", "A", "B", "pending", "A"), ("C4", "B", "A", "applied", "B"),
                   ("C5", "B", "C", "pending", "B")]  # fmt: skip
        s.add_all(
            RunResult(
                run_id=run_id, entity_key=k, segment=seg, previous_segment=prev, outcome=o,
                abc=abc, source="rule", rule="tree[0]", defaults_used=[],
            )
            for k, seg, prev, o, abc in results
        )  # fmt: skip
        rows = [("C1", "C", T0, None), ("C2", "A", T0, None), ("C3", "B", T0, None),
                ("C4", "A", T0, T1), ("C4", "B", T1, None), ("C5", "C", T0, None)]  # fmt: skip
        s.add_all(
            SegmentAssignment(
                scheme_code=CODE, entity_key=k, customer_code=k, segment=seg, valid_from=start,
                valid_to=end, run_id=run_id, source="rule", reason="run new: tree[0]",
            )
            for k, seg, start, end in rows
        )  # fmt: skip
        moves = {}
        for key, src, dst, reason in [("C1", "C", "A", "spike"), ("C3", "B", "A", "tier_jump"),
                                      ("C5", "C", "B", "share_moving")]:  # fmt: skip
            move = PendingMove(
                run_id=run_id, scheme_code=CODE, entity_key=key, customer_code=key,
                from_segment=src, to_segment=dst, reasons=[reason], source="rule",
            )  # fmt: skip
            s.add(move)
            await s.flush()
            moves[key] = move.id
    return History(tenant, run_id, moves)


async def bearer(client: httpx.AsyncClient, tenant: TenantRef, scopes: list[str]) -> dict[str, str]:
    client_id, secret = await create_client(tenant, "ERP connector", scopes, "test")
    token = await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def open_segment(tenant: TenantRef, key: str) -> str:
    async with tenant_session(tenant) as s:
        return (
            await s.execute(
                select(SegmentAssignment.segment).where(
                    SegmentAssignment.entity_key == key, SegmentAssignment.valid_to.is_(None)
                )
            )
        ).scalar_one()


async def move_status(tenant: TenantRef, move_id: int) -> str:
    async with tenant_session(tenant) as s:
        return (await s.get(PendingMove, move_id)).status  # type: ignore[union-attr]


INVALID = """code: api_scheme
name: API scheme
entity: customer
segments:
  - {code: A, name: A, rank: 1}
  - {code: B, name: B, rank: 2}
tree:
  - when: {attr: abc, eq: A}
    segment: A
  - segment: Z
"""


async def test_scheme_lifecycle_over_the_api(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    headers = await bearer(client, tenant, ["segments:read", "schemes:write"])
    schema = await client.get("/api/v1/schemes/schema", headers=headers)
    assert schema.status_code == 200 and schema.json()["title"] == "Tierline segmentation scheme"

    bad = await client.post(
        "/api/v1/schemes", content=INVALID, headers={**headers, "content-type": "text/yaml"}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    errors = bad.json()["errors"]
    assert errors and all({"path", "line", "message"} <= set(e) for e in errors)
    assert any(e["line"] == 10 for e in errors), errors

    created = await client.post(
        "/api/v1/schemes", json={"template": "lightweight", "code": "api_scheme"}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "api_scheme"
    again = await client.post(
        "/api/v1/schemes", json={"template": "lightweight", "code": "api_scheme"}, headers=headers
    )
    assert again.status_code == 409

    saved = await client.put(
        "/api/v1/schemes/api_scheme/draft",
        content=INVALID,
        headers={**headers, "content-type": "text/yaml"},
    )
    assert saved.status_code == 200
    body = saved.json()
    assert body["saved"] and not body["valid"] and any(e["line"] == 10 for e in body["errors"])

    refused = await client.post("/api/v1/schemes/api_scheme/publish", json={}, headers=headers)
    assert refused.status_code == 422 and refused.json()["errors"]
    detail = (await client.get("/api/v1/schemes/api_scheme", headers=headers)).json()
    assert detail["draft"] == INVALID and detail["versions"] == []
    assert detail["published_version"] is None

    valid = INVALID.replace("segment: Z", "segment: B")
    ok = await client.put("/api/v1/schemes/api_scheme/draft", json={"text": valid}, headers=headers)
    assert ok.json()["valid"] is True
    published = await client.post(
        "/api/v1/schemes/api_scheme/publish", json={"note": "first"}, headers=headers
    )
    assert published.status_code == 201 and published.json()["version"] == 1
    assert published.json()["content_hash"].startswith("sha256:")
    same = await client.post("/api/v1/schemes/api_scheme/publish", json={}, headers=headers)
    assert same.status_code == 409
    listed = (await client.get("/api/v1/schemes", headers=headers)).json()["items"]
    assert [(i["code"], i["published_version"]) for i in listed] == [("api_scheme", 1)]
    assert (await client.get("/api/v1/schemes/nope", headers=headers)).status_code == 404
    unknown_verb = await client.post("/api/v1/schemes/api_scheme:explode", headers=headers)
    assert unknown_verb.status_code == 404


async def test_dry_run_and_run_over_the_api(
    client: httpx.AsyncClient, runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    tenant = seeded_tenant
    code = f"api_{uuid.uuid4().hex[:8]}"
    headers = await bearer(
        client, tenant, ["segments:read", "schemes:write", "segments:run", "jobs:read"]
    )
    created = await client.post(
        "/api/v1/schemes", json={"template": "lightweight", "code": code}, headers=headers
    )
    assert created.status_code == 201, created.text
    preview = await client.post(f"/api/v1/schemes/{code}:dry-run", json={}, headers=headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["total"] > 0 and sum(body["counts"].values()) == body["total"]
    assert set(body["counts"]) <= {"A", "B", "C"}
    assert all(len(v) <= 10 for v in body["samples"].values())

    not_yet = await client.post("/api/v1/segment-runs", json={"scheme": code}, headers=headers)
    assert not_yet.status_code == 409  # nothing published yet
    await client.post(f"/api/v1/schemes/{code}/publish", json={}, headers=headers)
    queued = await client.post("/api/v1/segment-runs", json={"scheme": code}, headers=headers)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job"]["id"]
    assert await execute_job(runtime, tenant.slug, job_id) == "succeeded"
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    run_id = job["result"]["run_id"]
    runs = (
        await client.get("/api/v1/segment-runs", params={"scheme": code}, headers=headers)
    ).json()
    assert [r["id"] for r in runs["items"]] == [run_id]
    run = (
        await client.get(
            f"/api/v1/segment-runs/{run_id}", params={"outcome": "new", "limit": 5}, headers=headers
        )
    ).json()
    assert run["status"] == "succeeded" and run["counts"]["entities"] == body["total"]
    assert sum(run["counts"]["segments"].values()) == body["total"]
    assert len(run["results"]) == 5 and run["next_cursor"] == run["results"][-1]["entity_key"]
    assigned = (
        await client.get(
            "/api/v1/segments/assignments", params={"scheme": code, "limit": 1000}, headers=headers
        )
    ).json()
    assert len(assigned["items"]) == min(1000, body["total"])
    bad_id = await client.get("/api/v1/segment-runs/not-a-uuid", headers=headers)
    assert bad_id.status_code == 404


async def test_assignments_paging_and_as_of(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    await build_history(tenant)
    headers = await bearer(client, tenant, ["segments:read"])
    url = "/api/v1/segments/assignments"
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"scheme": CODE, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=headers)).json()
        seen += [i["entity_key"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["C1", "C2", "C3", "C4", "C5"]
    now = {
        i["entity_key"]: i["segment"]
        for i in (await client.get(url, params={"scheme": CODE}, headers=headers)).json()["items"]
    }
    assert now["C4"] == "B"
    before = (T1 - timedelta(days=2)).date().isoformat()
    then = (await client.get(url, params={"scheme": CODE, "as_of": before}, headers=headers)).json()
    assert {i["entity_key"]: i["segment"] for i in then["items"]}["C4"] == "A"
    ancient = (
        await client.get(url, params={"scheme": CODE, "as_of": "2001-01-01"}, headers=headers)
    ).json()
    assert ancient["items"] == []
    filtered = (
        await client.get(url, params={"scheme": CODE, "segment": "C"}, headers=headers)
    ).json()
    assert [i["entity_key"] for i in filtered["items"]] == ["C1", "C5"]
    prefix = (
        await client.get(url, params={"scheme": CODE, "entity": "C4"}, headers=headers)
    ).json()
    assert [i["entity_key"] for i in prefix["items"]] == ["C4"]
    assert (
        await client.get(url, params={"scheme": CODE, "as_of": "yesterday"}, headers=headers)
    ).status_code == 422
    assert (await client.get(url, params={"scheme": "nope"}, headers=headers)).status_code == 404
    assert (await client.get(url, headers=headers)).status_code == 422


async def test_exports_escape_formulas_and_write_back(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    await build_history(tenant)
    headers = await bearer(client, tenant, ["segments:read"])
    got = await client.get(
        "/api/v1/segments/assignments.csv", params={"scheme": CODE}, headers=headers
    )
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    by_key = {r["entity_key"]: r for r in rows}
    assert by_key["C2"]["name"] == "'" + FORMULA_NAME
    assert set(by_key) == {"C1", "C2", "C3", "C4", "C5"}
    xlsx = await client.get(
        "/api/v1/segments/assignments.xlsx", params={"scheme": CODE}, headers=headers
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    sap = await client.get(
        "/api/v1/segments/writeback",
        params={"scheme": CODE, "profile": "sap_customer_master"},
        headers=headers,
    )
    assert sap.status_code == 200, sap.text
    lines = sap.content.decode().splitlines()
    assert lines[0] == "KUNNR;SEGMENT" and "C4;B" in lines and len(lines) == 6
    generic = await client.get(
        "/api/v1/segments/writeback",
        params={"scheme": CODE, "segment_column": "KDKG1"},
        headers=headers,
    )
    assert generic.content.decode().splitlines()[0] == "code,KDKG1"
    wrong = await client.get(
        "/api/v1/segments/writeback",
        params={"scheme": CODE, "profile": "sap_material_master"},
        headers=headers,
    )
    assert wrong.status_code == 422
    async with tenant_session(tenant) as s:
        exports = (
            (await s.execute(select(AuditLog).where(AuditLog.action == "segments.export")))
            .scalars()
            .all()
        )
    assert len(exports) == 4


async def test_conflicts_and_timeline(client: httpx.AsyncClient, tenant: TenantRef) -> None:
    await build_history(tenant)
    headers = await bearer(client, tenant, ["segments:read"])
    found = (
        await client.get("/api/v1/segments/conflicts", params={"scheme": CODE}, headers=headers)
    ).json()
    assert found["top_segment"] == "A" and found["lower_half"] == ["C"]
    assert found["totals"] == {"accounts": 5, "under_served": 1, "over_served": 1}
    kinds = {i["entity_key"]: i["kind"] for i in found["items"]}
    assert kinds == {"C1": "under_served", "C2": "over_served"}
    assert found["matrix"]["strategic"] == {"C": 1}
    c1 = next(i for i in found["items"] if i["entity_key"] == "C1")
    assert c1["abc"] == "A"
    timeline = (
        await client.get("/api/v1/segments/timeline", params={"customer": "C4"}, headers=headers)
    ).json()["items"]
    assert [(t["segment"], t["valid_to"] is None) for t in timeline] == [("A", False), ("B", True)]


async def test_decide_moves_over_the_api(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    m = history.moves
    headers = await bearer(client, tenant, ["segments:read", "overrides:approve"])
    url = "/api/v1/segments/moves:decide"
    listed = (await client.get("/api/v1/segments/moves", headers=headers)).json()["items"]
    assert [i["entity_key"] for i in listed] == ["C1", "C3", "C5"]
    empty = await client.post(
        url, json={"ids": [m["C1"]], "decision": "apply", "reason": " "}, headers=headers
    )
    assert empty.status_code == 409 and "reason" in empty.json()["detail"]
    assert await move_status(tenant, m["C1"]) == "pending"
    # A machine client without overrides:approve_major cannot approve a tier jump.
    major = await client.post(
        url, json={"ids": [m["C1"], m["C3"]], "decision": "apply", "reason": "ok"}, headers=headers
    )
    assert major.status_code == 403
    assert await move_status(tenant, m["C1"]) == "pending"

    applied = await client.post(
        url,
        json={"ids": [m["C1"]], "decision": "apply", "reason": "customer review"},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"decided": 1, "status": "applied"}
    assert await open_segment(tenant, "C1") == "A"
    twice = await client.post(
        url, json={"ids": [m["C1"], m["C5"]], "decision": "reject", "reason": "x"}, headers=headers
    )
    assert twice.status_code == 409 and "already decided" in twice.json()["detail"]
    assert await move_status(tenant, m["C5"]) == "pending"  # all or nothing
    missing = await client.post(
        url, json={"ids": [999999], "decision": "reject", "reason": "x"}, headers=headers
    )
    assert missing.status_code == 404
    rejected = await client.post(
        url, json={"ids": [m["C5"]], "decision": "reject", "reason": "keep C"}, headers=headers
    )
    assert rejected.json()["status"] == "rejected"
    assert await open_segment(tenant, "C5") == "C"

    async with tenant_session(tenant) as s:
        c1 = (
            (
                await s.execute(
                    select(SegmentAssignment)
                    .where(SegmentAssignment.entity_key == "C1")
                    .order_by(SegmentAssignment.valid_from)
                )
            )
            .scalars()
            .all()
        )
        audit = (
            (await s.execute(select(AuditLog).where(AuditLog.action.like("segments.move.%"))))
            .scalars()
            .all()
        )
        notes = (
            (await s.execute(select(Notification).where(Notification.kind == "segment_move")))
            .scalars()
            .all()
        )
    assert [(a.segment, a.valid_to is None) for a in c1] == [("C", False), ("A", True)]
    assert c1[1].reason == "approved: customer review" and c1[1].run_id == history.run_id
    assert sorted(a.action for a in audit) == ["segments.move.apply", "segments.move.reject"]
    assert [n.recipient_email for n in notes] == ["am1@example.com"]

    approver = await make_staff(tenant, "approver")
    await sign_in(client, approver)
    page = await client.get(f"/t/{tenant.slug}/segments/moves")
    csrf = page.text.split('name="_csrf" value="')[1].split('"')[0]
    jump = await client.post(
        url,
        json={"ids": [m["C3"]], "decision": "apply", "reason": "board approved"},
        headers={"X-CSRF-Token": csrf},
    )
    assert jump.status_code == 200, jump.text
    assert await open_segment(tenant, "C3") == "A"
