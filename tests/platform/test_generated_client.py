"""A client generated from ``/schema/openapi.json`` works: openapi-python-client (a standard
generator, run offline) writes a Python package from the running server's document, without
a warning, and that package — nothing written by hand — drives the real server over a socket:
an API client gets a token with its client credentials, creates and reads master data,
creates and publishes a scheme, starts a run, follows its job and reads the assignments it
made. Every answer is parsed into the generated models, problems included.

Generator limitation worked around (documented in the README's API conventions): it parses
only JSON, text and ``application/octet-stream`` answers, so the XLSX and PDF downloads are
mapped to ``application/octet-stream`` with ``content_type_overrides`` in its configuration.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tierline.platform.identity.clients import create_client
from tierline.platform.tenancy import TenantRef

PACKAGE = "tierline_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CONFIG = f"""\
project_name_override: tierline-client
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
  application/pdf: application/octet-stream
"""
SCOPES = [
    "masterdata:read",
    "masterdata:write",
    "schemes:write",
    "segments:read",
    "segments:run",
    "jobs:read",
]


@pytest.fixture(scope="module")
def client_package(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The package openapi-python-client generates from the live server's document."""
    if not GENERATOR.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run this test: pip install -e '.[test]' (openapi-python-client)")
        pytest.skip("openapi-python-client is not installed (it comes with the test extra)")
    folder = tmp_path_factory.mktemp("generated")
    document = httpx.get(f"{live_server}/schema/openapi.json", timeout=30)
    assert document.status_code == 200
    (folder / "openapi.json").write_bytes(document.content)
    (folder / "config.yaml").write_text(CONFIG)
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--config",
            str(folder / "config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output, output
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def _token(package: ModuleType, base: str, tenant: TenantRef) -> str:
    issue = _module(package, "api.identity.issue_access_token")
    models = _module(package, "models")
    client_id, secret = await create_client(tenant, "generated client", SCOPES, "test")
    body = models.IssueAccessTokenTokenRequest(
        grant_type=models.IssueAccessTokenTokenRequestGrantType.CLIENT_CREDENTIALS,
        client_id=client_id,
        client_secret=secret,
    )
    refused = await issue.asyncio(
        client=package.Client(base_url=base),
        body=models.IssueAccessTokenTokenRequest(
            grant_type=models.IssueAccessTokenTokenRequestGrantType.CLIENT_CREDENTIALS,
            client_id=client_id,
            client_secret="wrong",
        ),
    )
    assert isinstance(refused, models.OAuthErrorOut) and refused.error == "invalid_client"
    token = await issue.asyncio(client=package.Client(base_url=base), body=body)
    assert isinstance(token, models.TokenOut) and token.token_type == "Bearer"
    return str(token.access_token)


async def _master_data(package: ModuleType, api: Any) -> None:
    """Six customers with falling revenue over two products: enough for an ABC split."""
    models = _module(package, "models")
    upsert_customer = _module(package, "api.master_data.upsert_customer")
    get_customer = _module(package, "api.master_data.get_customer")
    upsert_products = _module(package, "api.master_data.batch_upsert_products")
    upsert_lines = _module(package, "api.master_data.batch_upsert_order_lines")
    for n in range(1, 7):
        record = models.UpsertCustomerCustomerRecord(
            name=f"Customer {n}",
            account_type=models.UpsertCustomerCustomerRecordAccountType.SOLD_TO,
            country="DE",
        )
        applied = await upsert_customer.asyncio(f"GC{n}", client=api, body=record)
        assert isinstance(applied, models.UpsertOut) and applied.status == "applied", applied
    read = await get_customer.asyncio("GC1", client=api)
    assert isinstance(read, models.CustomerOut) and read.name == "Customer 1"
    missing = await get_customer.asyncio("NOPE", client=api)
    assert isinstance(missing, models.Problem) and missing.status == 404

    product = models.BatchUpsertProductsProductsBatchRecordsItem
    products = await upsert_products.asyncio(
        client=api,
        body=models.BatchUpsertProductsProductsBatch(
            records=[product(sku=f"GS{n}", description=f"Part {n}", base_uom="EA") for n in (1, 2)]
        ),
    )
    assert isinstance(products, models.UpsertOut) and products.inserted == 2, products
    day = datetime.now(UTC).date() - timedelta(days=20)
    line = models.BatchUpsertOrderLinesOrderLinesBatchRecordsItem
    lines = [
        line(
            order_no=f"GO{n}",
            line_no=1,
            customer_code=f"GC{n}",
            sku=f"GS{1 + n % 2}",
            order_date=day,
            quantity=10.0,
            uom="EA",
            revenue=float(10 ** (7 - n)),
        )
        for n in range(1, 7)
    ]
    applied = await upsert_lines.asyncio(
        client=api, body=models.BatchUpsertOrderLinesOrderLinesBatch(records=lines)
    )
    assert isinstance(applied, models.UpsertOut) and applied.inserted == 6, applied
    refused = await upsert_lines.asyncio(
        client=api,
        body=models.BatchUpsertOrderLinesOrderLinesBatch(
            records=[
                line(
                    order_no="GX",
                    line_no=1,
                    customer_code="GC1",
                    sku="GS1",
                    order_date=day,
                    quantity=-1.0,
                    uom="EA",
                )
            ]
        ),
    )
    assert isinstance(refused, models.Problem) and refused.status == 422
    assert refused.code == "records_refused" and refused.errors[0].field == "quantity"


async def _run(package: ModuleType, api: Any, code: str) -> str:
    """Create and publish a scheme, start a run, follow its job; the run's id."""
    models = _module(package, "models")
    create_scheme = _module(package, "api.segmentation.create_scheme")
    publish_scheme = _module(package, "api.segmentation.publish_scheme")
    start_run = _module(package, "api.segmentation.start_segment_run")
    get_job = _module(package, "api.master_data.get_job")
    created = await create_scheme.asyncio(
        client=api, body=models.SchemeCreateIn(template="lightweight", code=code)
    )
    assert isinstance(created, models.SchemeCreatedOut) and created.code == code, created
    published = await publish_scheme.asyncio(code, client=api, body=models.PublishIn(note="v1"))
    assert isinstance(published, models.PublishedOut) and published.version == 1, published
    started = await start_run.asyncio(client=api, body=models.RunStartIn(scheme=code))
    assert isinstance(started, models.JobStartedOut), started
    for _ in range(300):
        job = await get_job.asyncio(started.job.id, client=api)
        assert isinstance(job, models.JobOut), job
        if job.status in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.2)
    assert job.status == "succeeded", (job.error, job.error_code)
    return str(job.result["run_id"])


async def test_a_generated_client_drives_the_running_api(
    client_package: ModuleType, live_server: str, tenant: TenantRef
) -> None:
    package = client_package
    models = _module(package, "models")
    token = await _token(package, live_server, tenant)
    api = package.AuthenticatedClient(base_url=live_server, token=token, timeout=60.0)
    await _master_data(package, api)
    code = f"gen_{uuid.uuid4().hex[:6]}"
    run_id = await _run(package, api, code)

    get_run = _module(package, "api.segmentation.get_segment_run")
    run = await get_run.asyncio(run_id, client=api, outcome="all")
    assert isinstance(run, models.RunDetailOut) and run.scheme == code
    assert {r.entity_key for r in run.results} == {f"GC{n}" for n in range(1, 7)}

    list_assignments = _module(package, "api.segmentation.list_segment_assignments")
    first = await list_assignments.asyncio(client=api, scheme=code, limit=4)
    assert isinstance(first, models.AssignmentsOut) and len(first.items) == 4
    rest = await list_assignments.asyncio(client=api, scheme=code, cursor=first.next_cursor)
    assert isinstance(rest, models.AssignmentsOut) and rest.next_cursor is None
    assigned = {a.entity_key: a.segment for a in [*first.items, *rest.items]}
    assert set(assigned) == {f"GC{n}" for n in range(1, 7)}
    assert assigned["GC1"] == "A" and all(a.run_id == run_id for a in first.items)
    assert date.today() >= first.items[0].valid_from.date() - timedelta(days=1)

    export = _module(package, "api.segmentation.export_segment_assignments_xlsx")
    workbook = await export.asyncio_detailed(client=api, scheme=code)
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
