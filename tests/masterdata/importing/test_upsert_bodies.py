"""Bodies the master-data API cannot read are refused with a 4xx problem naming the reason, on
every upsert endpoint and the import-profile API, and nothing is written: malformed JSON, a
wrong content type, invalid UTF-8, NUL characters, lone surrogates and 5,000-digit integers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tests.masterdata.importing.test_import_api import bearer
from tierline.masterdata.importing.models import IdempotencyKey, Import
from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.masterdata.profiles.models import MappingProfile
from tierline.platform.tenancy import TenantRef, tenant_session

# (method, path, a good record's JSON text with {value} where the bad value goes, batch?)
ENDPOINTS = {
    "upsertCustomer": ("PUT", "/api/v1/customers/C1", '{{"name": {value}, "account_type": "ship_to"}}', False),
    "upsertProduct": ("PUT", "/api/v1/products/S1", '{{"description": {value}, "base_uom": "EA"}}', False),
    "upsertOrderLine": ("PUT", "/api/v1/order-lines/O1/1", '{{"customer_code": {value}}}', False),
    "batchUpsertCustomers": ("POST", "/api/v1/customers:batch", '{{"code": "C1", "name": {value}, "account_type": "ship_to"}}', True),
    "batchUpsertProducts": ("POST", "/api/v1/products:batch", '{{"sku": "S1", "description": {value}, "base_uom": "EA"}}', True),
    "batchUpsertOrderLines": ("POST", "/api/v1/order-lines:batch", '{{"order_no": "O1", "line_no": 1, "customer_code": {value}}}', True),
    "saveImportProfile": ("PUT", "/api/v1/import-profiles/mine", '{{"entity": "customers", "columns": {{"name": {value}}}}}', False),
}  # fmt: skip

# name -> (the value's JSON text or bytes; content type; status; what the reason says: a|b)
BAD_BODIES: dict[str, tuple[str | bytes, str, int, str]] = {
    "malformed JSON": ('"Acme', "application/json", 422, "not valid JSON"),
    "wrong content type": ('"Acme"', "text/plain", 415, "application/json"),
    "invalid UTF-8": (b'"Caf\xe9"', "application/json", 422, "not valid UTF-8"),
    "NUL character": ('"Ac\\u0000me"', "application/json", 422, "NUL"),
    # (msgspec names the problem differently where the value ends the document)
    "lone surrogate": ('"\\ud800"', "application/json", 422, "surrogate|\\ud800"),
    "5,000-digit integer": ("1" + "0" * 4999, "application/json", 422, "too large"),
}


def body_of(endpoint: str, bad: str | bytes) -> bytes:
    _, _, record, batch = ENDPOINTS[endpoint]
    value = bad if isinstance(bad, bytes) else bad.encode()
    head, tail = record.format(value="\x00").encode().split(b"\x00")
    one = head + value + tail
    return b'{"records": [' + one + b"]}" if batch else one


async def written(tenant: TenantRef) -> dict[str, int]:
    async with tenant_session(tenant) as s:
        return {
            model.__tablename__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Customer, Product, OrderLine, Import, IdempotencyKey, MappingProfile)
        }


@pytest.mark.parametrize("case", list(BAD_BODIES))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_a_body_that_cannot_be_read_is_a_4xx_with_its_reason_and_nothing_is_written(
    client: httpx.AsyncClient, tenant: TenantRef, endpoint: str, case: str
) -> None:
    headers = await bearer(client, tenant, ["masterdata:write", "imports:run"])
    bad, content_type, status, reason = BAD_BODIES[case]
    method, path, _, _ = ENDPOINTS[endpoint]
    resp = await client.request(
        method,
        path,
        content=body_of(endpoint, bad),
        headers={**headers, "Content-Type": content_type, "Idempotency-Key": f"k-{case}"},
    )
    assert resp.status_code == status, resp.text
    problem = resp.json()
    assert any(r in problem["detail"] for r in reason.split("|")), problem
    assert "Traceback" not in resp.text and "sql" not in resp.text.lower()
    assert set((await written(tenant)).values()) == {0}


async def test_the_good_bodies_of_the_same_shape_are_accepted(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    """The bodies above differ from accepted ones only in the bad value."""
    headers = await bearer(client, tenant, ["masterdata:write", "imports:run"])
    for endpoint in ("upsertCustomer", "batchUpsertProducts", "saveImportProfile"):
        method, path, _, _ = ENDPOINTS[endpoint]
        resp = await client.request(
            method,
            path,
            content=body_of(endpoint, '"Acme"'),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert resp.status_code == 200, (endpoint, resp.text)
