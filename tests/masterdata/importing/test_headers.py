"""Headers and extra attributes: a column named twice is refused with its positions; columns a
customer or product keeps as extra attributes are bounded (at most 50, names of at most 64
characters, values of at most 1,000), in files and through the API alike."""

from __future__ import annotations

from pathlib import Path

import httpx
from openpyxl import Workbook
from sqlalchemy import select

from tests.masterdata.importing.test_import import count, load, write
from tests.masterdata.importing.test_import_api import bearer
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.importing.validate import (
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_VALUE,
    MAX_EXTRA_ATTRIBUTES,
)
from tierline.masterdata.models import Customer, OrderLine
from tierline.masterdata.profiles.definition import build_profile
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def _attributes(tenant: TenantRef) -> dict[str, dict[str, object]]:
    async with tenant_session(tenant) as s:
        return {c.code: c.attributes for c in (await s.execute(select(Customer))).scalars()}


async def test_a_column_named_twice_is_refused_naming_the_positions(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    content = "code,name,account_type,name,region,region\nC1,Alpha,ship_to,Beta,emea,apac\n"
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert result.errors[0]["reason"] == (
        "the header (line 1) names a column more than once: 'name' in columns 2, 4; "
        "'region' in columns 5, 6"
    )
    assert await count(tenant, Customer) == 0  # (the second "name" was kept as name_duplicated_0)


async def test_a_column_named_twice_in_a_sheet_is_refused(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name", "account_type", "code"])
    sheet.append(["C1", "Alpha", "ship_to", "C2"])
    book.save(tmp_path / "c.xlsx")
    result = await load(runtime, tenant, "customers", tmp_path / "c.xlsx")
    assert result.status == "rejected"
    assert "'code' in columns 1, 4" in result.errors[0]["reason"]


async def test_blank_header_cells_are_not_attributes(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    """A trailing delimiter (as SAP exports write) makes blank columns: they are not kept."""
    content = "code;name;account_type;;sap_group;;\nC1;Alpha;ship_to;;A;;\n"
    semi = build_profile({"name": "semi", "entity": "customers", "options": {"delimiter": ";"}})
    result = await run_import(
        runtime, tenant, "customers", write(tmp_path, "c.csv", content), semi, SYSTEM
    )
    assert result.status == "applied", result.errors
    assert await _attributes(tenant) == {"C1": {"sap_group": "A"}}


async def test_a_hundred_thousand_extra_columns_are_refused_before_any_row_is_read(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    extra = 100_000
    header = "code,name,account_type," + ",".join(f"x{i}" for i in range(extra))
    row = "C1,Alpha,ship_to," + ",".join("v" for _ in range(extra))
    result = await load(
        runtime, tenant, "customers", write(tmp_path, "c.csv", f"{header}\n{row}\n")
    )
    assert result.status == "rejected"
    reason = result.errors[0]["reason"]
    assert f"{extra:,} columns are not mapped to an attribute of customers" in reason
    assert f"at most {MAX_EXTRA_ATTRIBUTES} are accepted" in reason
    assert await count(tenant, Customer) == 0


async def test_fifty_extra_columns_are_kept_and_fifty_one_refused(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    def content(extra: int) -> str:
        names = ",".join(f"erp_{i}" for i in range(extra))
        values = ",".join(str(i) for i in range(extra))
        return f"code,name,account_type,{names}\nC1,Alpha,ship_to,{values}\n"

    refused = await load(runtime, tenant, "customers", write(tmp_path, "a.csv", content(51)))
    assert (
        refused.status == "rejected" and "51 columns are not mapped" in refused.errors[0]["reason"]
    )
    ok = await load(runtime, tenant, "customers", write(tmp_path, "b.csv", content(50)))
    assert ok.status == "applied", ok.errors
    assert len((await _attributes(tenant))["C1"]) == 50


async def test_extra_attribute_names_and_values_are_bounded_with_line_and_column(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    long_name = "n" * (MAX_ATTRIBUTE_NAME + 1)
    named = f"code,name,account_type,ok,{long_name}\nC1,Alpha,ship_to,1,2\n"
    result = await load(runtime, tenant, "customers", write(tmp_path, "a.csv", named))
    assert result.status == "rejected"
    assert f"at most {MAX_ATTRIBUTE_NAME} characters long: column 5" in result.errors[0]["reason"]

    fits, too_long = "v" * MAX_ATTRIBUTE_VALUE, "v" * (MAX_ATTRIBUTE_VALUE + 1)
    valued = (
        f"code,name,account_type,note,memo\nC1,Alpha,ship_to,{fits},x\n"
        f"C2,Beta,ship_to,x,{too_long}\nC3,Gamma,ship_to,a\x00b,\n"
    )
    result = await load(runtime, tenant, "customers", write(tmp_path, "b.csv", valued))
    assert result.status == "rejected"
    assert [(e["line"], e["column"], e["reason"]) for e in result.errors] == [
        (3, "memo", "longer than 1,000 characters (the limit for an extra attribute)"),
        (4, "note", "control characters are not allowed"),
    ]
    assert await count(tenant, Customer) == 0


async def test_order_lines_ignore_columns_they_do_not_map(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    """Entities without extra attributes never store them: no bound applies."""
    from tests.masterdata.importing.test_import import LINES, load_base

    await load_base(runtime, tenant, tmp_path)
    wide = LINES.replace("\n", "," + ",".join(f"z{i}" for i in range(60)) + "\n", 1)
    rows = LINES.splitlines()
    wide = "\n".join([wide.splitlines()[0], *[r + "," * 60 for r in rows[1:]]]) + "\n"
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", wide))
    assert result.status == "applied", result.errors
    assert await count(tenant, OrderLine) == 3


async def test_the_api_bounds_extra_attributes_the_same_way(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write"])
    base = {"name": "Acme", "account_type": "sold_to"}
    many = {**base, **{f"erp_{i}": str(i) for i in range(MAX_EXTRA_ATTRIBUTES + 1)}}
    resp = await client.put("/api/v1/customers/A1", json=many, headers=headers)
    assert resp.status_code == 400 and "51 distinct extra attributes" in resp.json()["detail"]
    spread = [{"code": f"A{i}", **base, f"only_{i}": "x"} for i in range(MAX_EXTRA_ATTRIBUTES + 1)]
    resp = await client.post("/api/v1/customers:batch", json={"records": spread}, headers=headers)
    assert resp.status_code == 400 and "at most 50 are accepted" in resp.json()["detail"]
    long_name = {**base, "k" * 65: "x"}
    resp = await client.put("/api/v1/customers/A1", json=long_name, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["reason"].startswith("extra attribute names may be at most 64")
    long_value = [{"code": "A1", **base}, {"code": "A2", **base, "note": "v" * 1001}]
    resp = await client.post(
        "/api/v1/customers:batch", json={"records": long_value}, headers=headers
    )
    assert resp.status_code == 422
    assert [(e["index"], e["field"]) for e in resp.json()["errors"]] == [(1, "note")]
    assert await count(tenant, Customer) == 0
    fine = {**base, **{f"erp_{i}": str(i) for i in range(MAX_EXTRA_ATTRIBUTES)}}
    resp = await client.put("/api/v1/customers/A1", json=fine, headers=headers)
    assert resp.status_code == 200, resp.text


async def test_a_header_name_with_a_control_character_is_refused(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    """It would become an attribute name (a NUL cannot even be stored as a JSON key)."""
    content = "code,name,account_type,memo\x00x\nC1,Alpha,ship_to,1\n"
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert result.errors[0]["reason"] == "control characters in the header: column 4 ('memo\\x00x')"
    assert await count(tenant, Customer) == 0
