"""The scheme API: draft, validation with source lines, publish, identical versions refused —
through the real sign-in layer, bearer tokens and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.support.segmentation_builders import bearer
from tierline.platform.tenancy import TenantRef

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
