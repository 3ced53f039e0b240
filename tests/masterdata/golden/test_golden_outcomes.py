"""What an import says it did to golden records is what happened to them: a non-ERP file counts
new, changed, unchanged golden records and records sent to the steward (in its result, the
command line, the import row and the audit entry); an ERP upsert whose value another source
holds answers "unchanged" and names the field kept, the source holding it and the rule."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from tests.masterdata.golden.test_golden import ERP, FINANCE, SALES, frame, goldens, load
from tests.masterdata.importing.test_import_api import bearer
from tierline.masterdata.importing.cli import import_file
from tierline.masterdata.importing.models import Import
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.profiles.presets import presets
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def import_sales(runtime: Runtime, tenant: TenantRef, csv: str = SALES) -> Any:
    profile = dataclasses.replace(presets()["generic_customers"], source_system="sales")
    result = await run_import(runtime, tenant, "customers", frame(csv), profile, SYSTEM)
    assert result.status == "applied", result.errors
    return result


async def test_a_sales_file_counts_what_happened_to_golden_records(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await load(runtime, tenant, ERP, "erp")
    await load(runtime, tenant, FINANCE, "finance")
    first = await import_sales(runtime, tenant)
    # S3, SALES-C100 and S7 are new golden records; S1 changed C200 (the CRM's tier and
    # channel won); S2, S5 and S6 wait for a steward.
    assert (first.inserted, first.updated, first.unchanged, first.to_steward) == (3, 1, 0, 3)
    assert first.summary() == ("7 rows: 3 new, 1 changed, 0 unchanged, 3 sent to the data steward")
    again = await import_sales(runtime, tenant)
    assert (again.inserted, again.updated, again.unchanged, again.to_steward) == (0, 0, 4, 3)
    changed = await import_sales(runtime, tenant, SALES.replace("online,gold", "online,platinum"))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 3)
    async with tenant_session(tenant) as s:
        row = await s.get(Import, first.import_id)
        entry = (
            await s.execute(
                select(AuditLog).where(
                    AuditLog.action == "imports.apply", AuditLog.object_id == str(first.import_id)
                )
            )
        ).scalar_one()
    assert row is not None
    assert (row.inserted, row.updated, row.unchanged, row.to_steward) == (3, 1, 0, 3)
    assert {k: entry.after[k] for k in ("inserted", "updated", "unchanged", "to_steward")} == {
        "inserted": 3,
        "updated": 1,
        "unchanged": 0,
        "to_steward": 3,
    }


async def test_the_command_line_prints_the_golden_record_counts(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load(runtime, tenant, ERP, "erp")
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    app = typer.Typer()
    app.command()(import_file)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["customers", str(path), "--tenant", tenant.slug, "--source", "sales"],
    )
    assert result.exit_code == 0, result.output
    # (no finance load here: S1 links to C200 and changes it; the three ambiguous records wait)
    assert "7 rows: 3 new, 1 changed, 0 unchanged, 3 sent to the data steward" in result.output


async def test_an_erp_upsert_outranked_by_finance_says_unchanged_and_why(
    client: httpx.AsyncClient, runtime: Runtime, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write"])
    record = {"name": "ACME GMBH", "account_type": "sold_to", "tax_id": "DE999", "country": "DE"}
    first = await client.put("/api/v1/customers/C1", json=record, headers=headers)
    assert first.status_code == 200 and first.json()["inserted"] == 1
    finance = {**record, "name": "Acme Industrial GmbH"}
    held = await client.put("/api/v1/customers/F-1?source=finance", json=finance, headers=headers)
    assert held.status_code == 200 and held.json()["updated"] == 1  # C1 now has finance's name
    renamed = await client.put(
        "/api/v1/customers/C1", json={**record, "name": "ACME GmbH (new)"}, headers=headers
    )
    body = renamed.json()
    assert renamed.status_code == 200
    assert (body["inserted"], body["updated"], body["unchanged"]) == (0, 0, 1)  # not "updated"
    assert body["kept"] == [
        {
            "index": 0,
            "key": "C1",
            "fields": [
                {
                    "field": "name",
                    "sent": "ACME GmbH (new)",
                    "kept": "Acme Industrial GmbH",
                    "source": "finance",
                    "rule": "priority",
                    "reason": "finance comes before erp for name "
                    "(finance > erp > sales > logistics > any other source)",
                }
            ],
        }
    ]
    assert (await goldens(tenant))["C1"].name == "Acme Industrial GmbH"
    # In a batch: the changed record counts as changed, each record says what it kept.
    batch = await client.post(
        "/api/v1/customers:batch",
        json={
            "records": [
                {"code": "C2", "name": "Beta", "account_type": "ship_to"},
                {"code": "C1", **record, "name": "ACME (again)", "channel": "retail"},
            ]
        },
        headers=headers,
    )
    body = batch.json()
    assert (body["inserted"], body["updated"], body["unchanged"]) == (1, 1, 0)
    assert [(k["index"], k["key"], [f["field"] for f in k["fields"]]) for k in body["kept"]] == [
        (1, "C1", ["name"])
    ]
    assert (await goldens(tenant))["C1"].channel == "retail"


async def test_a_source_that_may_not_set_a_field_or_is_older_is_told_so(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write"])
    base = {"name": "Globex", "account_type": "sold_to", "tax_id": "US-1", "country": "US"}
    await client.put("/api/v1/customers/G1", json=base, headers=headers)
    # Two systems of the same (wildcard) priority for the channel (the ERP sent none): the
    # more recent one holds it.
    newer = {**base, "channel": "oem", "source_updated_at": "2026-02-01T00:00:00Z"}
    await client.put("/api/v1/customers/X1?source=crm2", json=newer, headers=headers)
    older = {
        **base,
        "channel": "retail",
        "account_type": "parent",  # only the ERP may set it
        "source_updated_at": "2026-01-01T00:00:00Z",
    }
    resp = await client.put("/api/v1/customers/X1?source=billing", json=older, headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["inserted"], body["updated"], body["unchanged"], body["to_steward"]) == (
        0,
        0,
        1,
        0,
    )
    [record] = body["kept"]
    fields = {f["field"]: (f["kept"], f["source"], f["rule"]) for f in record["fields"]}
    assert fields == {
        "account_type": ("sold_to", "erp", "not allowed"),
        "channel": ("oem", "crm2", "recency"),
    }
    assert {f["field"]: f["reason"] for f in record["fields"]}["account_type"] == (
        "only erp may set account_type"
    )
