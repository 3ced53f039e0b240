"""Every JSON body the API takes goes through the bounded reader, whatever the endpoint: for
each write operation in the OpenAPI document (a new domain's too), malformed, hostile and
mistyped bodies are refused with a 4xx problem naming the reason, never a 500, before
anything is written."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tierline.platform.identity.clients import CLIENT_SCOPES, create_client
from tierline.platform.tenancy import TenantRef

DEEP = b'{"a": ' * 5000 + b"1" + b"}" * 5000
HOSTILE: list[tuple[str, bytes, str, int]] = [
    ("malformed", b'{"a": ', "application/json", 422),
    ("NUL", b'{"a": "x\\u0000y"}', "application/json", 422),
    ("lone surrogate", b'{"a": "\\ud800"}', "application/json", 422),
    ("deep", DEEP, "application/json", 422),
    ("not JSON", b"a=1", "application/x-www-form-urlencoded", 415),
]


def _json_writes(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if path.startswith("/api/") and "application/json" in content:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


async def test_every_json_body_is_read_by_the_bounded_reader(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    client_id, secret = await create_client(tenant, "hostile", sorted(CLIENT_SCOPES), "test")
    token = await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    document = (await client.get("/schema/openapi.json")).json()
    writes = _json_writes(document)
    assert len(writes) > 15
    for method, path in writes:
        if path.startswith("/api/v1/tenants"):
            continue  # the operator's, tested in test_app with the operator token
        for name, body, content_type, status in HOSTILE:
            answer = await client.request(
                method, path, content=body, headers={**bearer, "content-type": content_type}
            )
            where = (method, path, name, answer.status_code, answer.text[:300])
            assert answer.status_code == status, where
            assert answer.headers["content-type"].startswith("application/problem+json"), where
            assert answer.json()["detail"], where
