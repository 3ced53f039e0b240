"""Custom mapping profiles through the page and the API, then used by an import."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from tests.conftest import StaffFactory, csrf_of, sign_in
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Customer
from tierline.masterdata.profiles.service import get_profile
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def test_profile_page_saves_validates_and_the_import_uses_it(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await sign_in(client, await make_staff(tenant, "data_steward"))
    page = await client.get(f"/t/{tenant.slug}/imports/profiles")
    assert "sap_customer_master" in page.text
    bad = await client.post(
        f"/t/{tenant.slug}/imports/profiles",
        data={
            "name": "crm",
            "entity": "customers",
            "columns": "planet = X",
            "_csrf": csrf_of(page.text),
        },
    )
    assert bad.status_code == 422 and "columns.planet: not an attribute of customers" in bad.text
    ok = await client.post(
        f"/t/{tenant.slug}/imports/profiles",
        data={
            "name": "crm",
            "entity": "customers",
            "source_system": "erp",
            "delimiter": "|",
            "columns": "code = Account\nname = Account Name\naccount_type = Type",
            "values": "account_type: ST => ship_to",
            "_csrf": csrf_of(page.text),
        },
    )
    assert ok.status_code == 303
    page = await client.get(f"/t/{tenant.slug}/imports")
    resp = await client.post(
        f"/t/{tenant.slug}/imports",
        data={"entity": "customers", "profile": "crm", "_csrf": csrf_of(page.text)},
        files={"file": ("crm.txt", b"Account|Account Name|Type\nA1|Alpha|ST\n", "text/plain")},
    )
    assert resp.status_code == 303


async def test_profiles_api(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, await make_staff(tenant, "admin"))
    listed = (await client.get("/api/v1/import-profiles", params={"limit": 1000})).json()
    assert listed["next_cursor"] is None
    assert {"generic_order_lines", "sap_material_master"} <= {p["name"] for p in listed["items"]}
    first = (await client.get("/api/v1/import-profiles", params={"limit": 2})).json()
    following = await client.get(
        "/api/v1/import-profiles", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    names = [p["name"] for p in first["items"] + following.json()["items"]]
    assert names == [p["name"] for p in listed["items"][:4]]
    page = await client.get(f"/t/{tenant.slug}/imports/profiles")
    body = {
        "entity": "products",
        "columns": {"sku": "Material"},
        "options": {"delimiter": ";", "decimal": ","},
    }
    saved = await client.put(
        "/api/v1/import-profiles/mat", json=body, headers={"x-csrf-token": csrf_of(page.text)}
    )
    assert saved.status_code == 200 and saved.json()["options"]["delimiter"] == ";"
    bad = await client.put(
        "/api/v1/import-profiles/mat",
        json={**body, "options": {"decimal": ";", "delimiter": ";"}},
        headers={"x-csrf-token": csrf_of(page.text)},
    )
    assert bad.status_code == 400 and "options.decimal" in bad.json()["detail"]
    no_csrf = await client.put("/api/v1/import-profiles/mat", json=body)
    assert no_csrf.status_code == 403
    other = await make_tenant()
    assert (await client.get(f"/t/{other.slug}/imports/profiles")).status_code == 404


async def test_a_profile_with_alternative_column_names_reads_files_as_they_come(
    client: httpx.AsyncClient,
    tenant: TenantRef,
    make_staff: StaffFactory,
    runtime: Runtime,
    tmp_path: Path,
) -> None:
    """``code = Account | Konto`` on the page: a file may name the column either way; a
    profile that detects reads tab-separated Windows-1252 without being told."""
    await sign_in(client, await make_staff(tenant, "data_steward"))
    page = await client.get(f"/t/{tenant.slug}/imports/profiles")
    saved = await client.post(
        f"/t/{tenant.slug}/imports/profiles",
        data={
            "name": "crm_de",
            "entity": "customers",
            "delimiter": ";",
            "detect": "1",
            "columns": "code = Account | Konto\nname = Account Name | Kontoname\naccount_type = Type",
            "_csrf": csrf_of(page.text),
        },
    )
    assert saved.status_code == 303
    every = await client.get("/api/v1/import-profiles", params={"limit": 1000})
    listed = {p["name"]: p for p in every.json()["items"]}
    assert listed["crm_de"]["aliases"] == {"code": ["Konto"], "name": ["Kontoname"]}
    assert listed["crm_de"]["options"]["detect"] is True
    shown = await client.get(f"/t/{tenant.slug}/imports/profiles")
    assert "code←Account | Konto" in shown.text
    async with tenant_session(tenant) as s:
        profile = await get_profile(s, "crm_de", "customers")
    content = "Konto\tKontoname\tType\r\nK1\tGärtnerei Groß\tship_to\r\n".encode("cp1252")
    path = tmp_path / "konten.txt"
    path.write_bytes(content)
    result = await run_import(runtime, tenant, "customers", path, profile, SYSTEM)
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        assert (await s.execute(select(Customer.name))).scalar_one() == "Gärtnerei Groß"
