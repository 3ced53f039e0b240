"""The reconciliation page and API: money masked without margin:read, the change set through
the approval queue (four eyes), the write-back file, problems on bad input, and another
tenant's reconciliation answering 404."""

from __future__ import annotations

import io
from pathlib import Path

import httpx

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tests.inventory.reconciliation.test_reconciliation_service import (
    AS_OF,
    PLANNER,
    RECOMMENDED,
    prepared,
)
from tests.support.segmentation_builders import bearer
from tierline.inventory.reconciliation import service
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def stored(runtime: Runtime, tenant: TenantRef, tmp_path: Path) -> int:
    await prepared(runtime, tenant, tmp_path)
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant) as s:
        reconciled = await service.compare_with_erp(await s.connection(), RECOMMENDED, codec, AS_OF)
        return (await service.store_reconciliation(s, reconciled, codec, PLANNER, AS_OF)).id


async def as_role(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, role: str
) -> str:
    client.cookies.clear()
    staff = await make_staff(tenant, role)
    assert (await sign_in(client, staff)).status_code == 303
    return staff.email


async def test_page_masks_money_and_the_change_set_goes_through_the_queue(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: TenantRef,
    tmp_path: Path,
    make_staff: StaffFactory,
) -> None:
    rid = await stored(runtime, tenant, tmp_path)
    base = f"/t/{tenant.slug}/inventory/reconciliation"
    await as_role(client, tenant, make_staff, "analyst")  # inventory:read, no margin:read
    page = await client.get(base)
    assert page.status_code == 200 and f"Reconciliation #{rid}" in page.text
    stake = '<td class="num" data-label="Value delta">315</td>'  # S2 at P1: 30 EA more safety stock at 10.50
    assert stake not in page.text and "needs margin:read" in page.text
    api = (await client.get(f"/api/v1/inventory/reconciliations/{rid}")).json()
    assert api["rows"][0]["value_delta"] is None and api["rows"][0]["masked"] is True
    assert (await client.post(base, data={"_csrf": csrf_of(page.text)})).status_code == 403

    await as_role(client, tenant, make_staff, "planner")  # margin:read, inventory:write
    page = await client.get(base)
    assert stake in page.text
    api = (await client.get(f"/api/v1/inventory/reconciliations/{rid}?limit=1")).json()
    assert api["rows"][0]["value_delta"] == 315.0 and api["next_offset"] == 1
    assert api["rows"][0]["mismatches"] == ["mrp_type"]
    refused = await client.get(f"{base}/{rid}/writeback")
    assert refused.status_code == 422  # not approved yet
    submitted = await client.post(f"{base}/{rid}/submit", data={"_csrf": csrf_of(page.text)})
    assert submitted.status_code == 303

    await as_role(client, tenant, make_staff, "approver")
    queue = await client.get(f"/t/{tenant.slug}/approvals?kind=erp_changes")
    assert queue.status_code == 200 and f"ERP change set #{rid}" in queue.text
    decided = await client.post(
        f"/t/{tenant.slug}/approvals",
        data={
            "item": f"erp_changes:{rid}",
            "decision": "approve",
            "reason": "simulated attainment holds",
            "_csrf": csrf_of(queue.text),
        },
    )
    assert decided.status_code in (200, 303), decided.text
    async with tenant_session(tenant) as s:
        assert (await service.find(s, rid)).status == "approved"
    file = await client.get(f"{base}/{rid}/writeback")
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    assert file.text.splitlines()[0].startswith("MATNR;WERKS;DISMM;MINBE;EISBE")
    export = await client.get(f"{base}/{rid}/export.csv")
    assert export.status_code == 200 and "value_delta" in export.text.splitlines()[0]
    xlsx = await client.get(f"{base}/{rid}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"  # a zip: an XLSX workbook
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.cell(1, 1).value == "sku" and sheet.max_row == 4


async def test_bad_input_is_a_problem_not_a_500(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: TenantRef,
    tmp_path: Path,
    make_staff: StaffFactory,
) -> None:
    rid = await stored(runtime, tenant, tmp_path)
    erp = await bearer(client, tenant, ["inventory:read", "inventory:write"])
    api = "/api/v1/inventory/reconciliations"
    for query in ("offset=-1", "limit=x", "flag=weather"):
        found = await client.get(f"{api}/{rid}?{query}", headers=erp)
        assert found.status_code == 422, (query, found.text)
        assert "Traceback" not in found.text
    no_run = await client.post(api, headers=erp, json={})
    assert no_run.status_code == 409 and "no policy run is in force" in no_run.text
    profile = await client.get(f"{api}/{rid}/writeback?profile=generic_products", headers=erp)
    assert profile.status_code == 422
    assert (await client.post(f"{api}/{rid}/submit", headers=erp, json={})).json()["status"] == (
        "pending_approval"
    )
    again = await client.post(f"{api}/{rid}/submit", headers=erp, json={})
    assert again.status_code == 409 and "pending approval" in again.text


async def test_another_tenants_reconciliation_is_404(
    client: httpx.AsyncClient,
    runtime: Runtime,
    make_tenant: TenantFactory,
    tmp_path: Path,
    make_staff: StaffFactory,
) -> None:
    a, b = await make_tenant(), await make_tenant()
    rid = await stored(runtime, a, tmp_path)
    erp = await bearer(client, b, ["inventory:read", "inventory:write"])
    api = "/api/v1/inventory/reconciliations"
    assert (await client.get(f"{api}/{rid}", headers=erp)).status_code == 404
    assert (await client.get(f"{api}/{rid}/writeback", headers=erp)).status_code == 404
    assert (await client.post(f"{api}/{rid}/submit", headers=erp, json={})).status_code == 404
    assert (await client.get(api, headers=erp)).json()["items"] == []
    await as_role(client, b, make_staff, "admin")
    page = await client.get(f"/t/{b.slug}/inventory/reconciliation?id={rid}")
    assert page.status_code == 404
    assert (
        await client.get(f"/t/{b.slug}/inventory/reconciliation/{rid}/export.csv")
    ).status_code == 404


async def test_a_reconciliation_of_the_run_in_force_runs_as_a_job(
    client: httpx.AsyncClient, runtime: Runtime, tenant: TenantRef
) -> None:
    from tests.inventory.simulations.test_simulations import with_erp
    from tests.inventory.test_runs import ACTOR, publish_policy
    from tests.support.inventory_builders import build_inventory_history
    from tierline.inventory import service as inventory
    from tierline.platform.jobs.worker import execute_job

    history = await build_inventory_history(tenant)
    await publish_policy(tenant)
    await inventory.run_policy(runtime, tenant, "main", actor=ACTOR, as_of=history.as_of)
    await with_erp(tenant)
    erp = await bearer(client, tenant, ["inventory:read", "inventory:write", "jobs:read"])
    queued = await client.post("/api/v1/inventory/reconciliations", headers=erp, json={})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job"]["id"]
    assert await execute_job(runtime, tenant.slug, job_id) == "succeeded"
    job = (await client.get(queued.json()["status_url"], headers=erp)).json()
    rid = job["result"]["reconciliation"]
    got = (await client.get(f"/api/v1/inventory/reconciliations/{rid}", headers=erp)).json()
    rows = {(r["sku"], r["location_code"]): r for r in got["rows"]}
    # S1 at DC1: the ERP's reorder point 90 against the run's; S2 has no ERP parameters
    assert rows[("S1", "DC1")]["changed"] is True
    assert "not_in_erp" in rows[("S2", "DC1")]["mismatches"]
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    async with tenant_session(tenant) as s:  # a retried job finds what it kept
        again = await service.reconcile_in_force(s, codec, ACTOR, AS_OF, job_id=job_id)
    assert again.id == rid
