"""Imports and upserts over HTTP: the upload page with its job, the imports API with a machine
client, batch/single upserts with per-record errors and idempotency, tenant isolation."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
from litestar import Litestar

from tests.conftest import StaffFactory, csrf_of, http_client, sign_in
from tests.masterdata.importing.test_import import CUSTOMERS, PRODUCTS
from tierline.platform.identity.clients import create_client
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


def import_link(html: str, tenant: TenantRef) -> str:
    found = re.search(rf'href="(/t/{tenant.slug}/imports/[0-9a-f-]{{36}})"', html)
    assert found, html
    return found.group(1)


async def bearer(client: httpx.AsyncClient, tenant: TenantRef, scopes: list[str]) -> dict[str, str]:
    client_id, secret = await create_client(tenant, "ERP connector", scopes, "test")
    token = await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_upload_page_runs_a_job_and_shows_the_result(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, runtime: Runtime
) -> None:
    await sign_in(client, await make_staff(tenant, "data_steward"))
    page = await client.get(f"/t/{tenant.slug}/imports")
    assert page.status_code == 200 and "Check and load" in page.text
    resp = await client.post(
        f"/t/{tenant.slug}/imports",
        data={"entity": "customers", "profile": "", "_csrf": csrf_of(page.text)},
        files={"file": ("customers.csv", CUSTOMERS.encode(), "text/csv")},
    )
    assert resp.status_code == 303
    job_url = resp.headers["location"]
    queued = await client.get(job_url)
    assert "queued" in queued.text and 'hx-trigger="every 1s"' in queued.text
    job_id = job_url.rsplit("/", 1)[1]
    assert await execute_job(runtime, tenant.slug, job_id) == "succeeded"
    done = await client.get(job_url, headers={"hx-request": "true"})
    assert "4 rows: 4 new, 0 changed, 0 unchanged" in done.text
    listing = await client.get(f"/t/{tenant.slug}/imports")
    assert "customers.csv" in listing.text


async def test_rejected_upload_has_an_error_page_and_a_safe_csv_report(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, runtime: Runtime
) -> None:
    await sign_in(client, await make_staff(tenant, "admin"))
    page = await client.get(f"/t/{tenant.slug}/imports")
    bad = "code,name,account_type\nC1,Alpha,=cmd|' /C calc'!A0\n"
    resp = await client.post(
        f"/t/{tenant.slug}/imports",
        data={"entity": "customers", "_csrf": csrf_of(page.text)},
        files={"file": ("bad.csv", bad.encode(), "text/csv")},
    )
    job_id = resp.headers["location"].rsplit("/", 1)[1]
    await execute_job(runtime, tenant.slug, job_id)
    done = await client.get(resp.headers["location"])
    import_url = import_link(done.text, tenant)
    detail = await client.get(import_url)
    assert "must be one of" in detail.text and "nothing was loaded" in detail.text
    report = await client.get(f"{import_url}/errors.csv")
    assert report.headers["content-disposition"].startswith("attachment")
    assert report.content.startswith("\ufeff".encode())  # UTF-8 with a BOM, for Excel
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["line", "column", "value", "reason"]
    assert rows[1][:3] == ["2", "account_type", "'=cmd|' /C calc'!A0"]


async def test_oversize_upload_is_refused_and_nothing_is_kept(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory, data_dir: Any
) -> None:
    from dataclasses import replace

    from tierline.platform.app import create_app

    small = replace(runtime.settings, max_upload_bytes=2048)
    app = create_app(small, runtime=runtime)
    async with http_client(app) as c:
        await sign_in(c, await make_staff(tenant, "admin"))
        page = await c.get(f"/t/{tenant.slug}/imports")
        resp = await c.post(
            f"/t/{tenant.slug}/imports",
            data={"entity": "customers", "_csrf": csrf_of(page.text)},
            files={"file": ("big.csv", b"code,name\n" + b"X,Y\n" * 2000, "text/csv")},
        )
    assert resp.status_code == 413 and "limit" in resp.text
    uploads = data_dir / "uploads" / tenant.slug
    assert not any(uploads.glob("*.upload"))


async def test_imports_api_with_a_machine_client(
    client: httpx.AsyncClient, tenant: TenantRef, runtime: Runtime
) -> None:
    headers = await bearer(client, tenant, ["imports:run", "jobs:read"])
    resp = await client.post(
        "/api/v1/imports",
        data={"entity": "products"},
        files={"file": ("products.csv", PRODUCTS.encode(), "text/csv")},
        headers=headers,
    )
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job"]["id"]
    await execute_job(runtime, tenant.slug, job_id)
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "succeeded" and job["result"]["status"] == "applied"
    detail = await client.get(f"/api/v1/imports/{job['result']['import_id']}", headers=headers)
    assert detail.json()["inserted"] == 2
    wrong = await client.post(
        "/api/v1/imports",
        data={"entity": "planets"},
        files={"file": ("x.csv", b"a\n1\n", "text/csv")},
        headers=headers,
    )
    assert wrong.status_code == 422 and "entity: choose one of" in wrong.json()["detail"]


async def test_batch_upsert_with_per_record_errors_and_idempotency(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write"])
    good = [
        {"code": f"K{i}", "name": f"Customer {i}", "account_type": "ship_to", "strategic": i == 0}
        for i in range(5)
    ]
    resp = await client.post(
        "/api/v1/customers:batch",
        json={"records": good},
        headers={**headers, "Idempotency-Key": "batch-1"},
    )
    assert resp.status_code == 200 and resp.json()["inserted"] == 5
    replay = await client.post(
        "/api/v1/customers:batch",
        json={"records": good},
        headers={**headers, "Idempotency-Key": "batch-1"},
    )
    assert replay.json() == resp.json() and replay.headers["idempotent-replay"] == "true"
    reused = await client.post(
        "/api/v1/customers:batch",
        json={"records": good[:1]},
        headers={**headers, "Idempotency-Key": "batch-1"},
    )
    assert reused.status_code == 400 and "different request" in reused.json()["detail"]
    bad = [*good, {"code": "K9", "name": "", "account_type": "moon"}]
    rejected = await client.post("/api/v1/customers:batch", json={"records": bad}, headers=headers)
    assert rejected.status_code == 422
    errors = rejected.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(5, "name"), (5, "account_type")}
    # customers keep unknown attributes as ERP extras; order lines have none to keep
    unknown = await client.post(
        "/api/v1/order-lines:batch",
        json={"records": [{"order_no": "Z", "planet": 1}]},
        headers=headers,
    )
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "planet"


async def test_single_upsert_takes_the_key_from_the_path(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write"])
    ok = await client.put(
        "/api/v1/customers/ACME-1",
        json={"name": "Acme", "account_type": "sold_to"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["inserted"] == 1
    again = await client.put(
        "/api/v1/customers/ACME-1",
        json={"name": "Acme", "account_type": "sold_to"},
        headers=headers,
    )
    assert again.json()["unchanged"] == 1
    clash = await client.put(
        "/api/v1/customers/ACME-1",
        json={"code": "OTHER", "name": "x", "account_type": "sold_to"},
        headers=headers,
    )
    assert clash.status_code == 400 and "the path says" in clash.json()["detail"]


async def test_imports_are_isolated_between_tenants(
    app: Litestar, make_tenant: Any, make_staff: StaffFactory, runtime: Runtime
) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with http_client(app) as ca, http_client(app) as cb:
        await sign_in(ca, await make_staff(a, "admin"))
        await sign_in(cb, await make_staff(b, "admin"))
        page = await ca.get(f"/t/{a.slug}/imports")
        resp = await ca.post(
            f"/t/{a.slug}/imports",
            data={"entity": "customers", "_csrf": csrf_of(page.text)},
            files={"file": ("c.csv", CUSTOMERS.encode(), "text/csv")},
        )
        job_id = resp.headers["location"].rsplit("/", 1)[1]
        await execute_job(runtime, a.slug, job_id)
        import_url = import_link((await ca.get(resp.headers["location"])).text, a)
        import_id = import_url.rsplit("/", 1)[1]
        assert (await cb.get(f"/t/{a.slug}/imports")).status_code == 404
        assert (await cb.get(f"/t/{b.slug}/imports/{import_id}")).status_code == 404
        assert (await cb.get(f"/t/{b.slug}/imports/jobs/{job_id}")).status_code == 404
        assert (await cb.get(f"/api/v1/imports/{import_id}")).status_code == 404
        assert (await cb.get(f"/api/v1/jobs/{job_id}")).status_code == 404
        assert (await ca.get(f"/api/v1/imports/{import_id}")).status_code == 200


async def test_upserts_land_only_in_the_callers_tenant(
    client: httpx.AsyncClient, make_tenant: Any
) -> None:
    a, b = await make_tenant(), await make_tenant()
    token_a = await bearer(client, a, ["masterdata:write", "masterdata:read"])
    token_b = await bearer(client, b, ["masterdata:write", "masterdata:read"])
    resp = await client.put(
        "/api/v1/customers/ONLY-A",
        json={"name": "A only", "account_type": "sold_to"},
        headers=token_a,
    )
    assert resp.status_code == 200
    assert (await client.get("/api/v1/customers/ONLY-A", headers=token_a)).status_code == 200
    assert (await client.get("/api/v1/customers/ONLY-A", headers=token_b)).status_code == 404
    # B writing the same code creates B's own record; A's stays as it was
    await client.put(
        "/api/v1/customers/ONLY-A", json={"name": "B's", "account_type": "ship_to"}, headers=token_b
    )
    assert (await client.get("/api/v1/customers/ONLY-A", headers=token_a)).json()[
        "name"
    ] == "A only"
