"""The assignments API: paging and as-of, exports with formula-safe cells and the ERP
write-back, the sales vs operations view and the timeline."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.support.segmentation_builders import (
    CODE,
    FORMULA_NAME,
    T1,
    bearer,
    build_history,
)
from tierline.masterdata.profiles.service import save_profile
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import TenantRef, tenant_session


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
    assert got.headers["content-type"] == "text/csv; charset=utf-8"  # one charset
    assert got.content.startswith("\ufeff".encode())  # spreadsheet CSV: UTF-8 with a BOM
    assert sap.headers["content-type"] == "text/csv; charset=utf-8"
    assert not sap.content.startswith("\ufeff".encode())  # an ERP file: no mark it did not ask for

    async with tenant_session(tenant) as s:
        exports = (
            (await s.execute(select(AuditLog).where(AuditLog.action == "segments.export")))
            .scalars()
            .all()
        )
    assert len(exports) == 4


async def test_write_back_in_the_profiles_encoding(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    await build_history(tenant)
    async with tenant_session(tenant) as s:
        for name, encoding in (("ansi", "cp1252"), ("wide", "utf-16")):
            raw = {"name": name, "entity": "customers", "columns": {"code": "KUNNR"}}
            await save_profile(s, {**raw, "options": {"encoding": encoding}}, Actor("test"))
    headers = await bearer(client, tenant, ["segments:read"])
    params = {"scheme": CODE, "segment_column": "KDKG1"}
    ansi = await client.get(
        "/api/v1/segments/writeback", params={**params, "profile": "ansi"}, headers=headers
    )
    assert ansi.status_code == 200, ansi.text
    assert ansi.headers["content-type"] == "text/csv; charset=windows-1252"
    assert ansi.content.decode("cp1252").splitlines()[0] == "KUNNR,KDKG1"
    wide = await client.get(
        "/api/v1/segments/writeback", params={**params, "profile": "wide"}, headers=headers
    )
    assert wide.headers["content-type"] == "text/csv; charset=utf-16"
    # One byte-order mark for the whole file, not one per written chunk.
    assert wide.content.count("\ufeff".encode("utf-16-le")) == 1
    lines = wide.content.decode("utf-16").splitlines()
    assert lines[0] == "KUNNR,KDKG1" and "C4,B" in lines and len(lines) == 6


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
