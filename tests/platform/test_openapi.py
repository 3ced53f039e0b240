"""The OpenAPI document can drive a client generator: every ``/api`` operation of the assembled
app (a new domain's too, with no change here) is walked and must have

- an ``operationId`` and a description (the handler's docstring);
- a typed request body on ``POST``/``PUT``/``PATCH``, and a typed 2xx response;
- the ``Problem`` schema (``application/problem+json``) on 400, 404, 422 and 503, on 401 and
  403 unless public, on 409, 413 and 415 when it writes;
- a security requirement, unless its permission is ``PUBLIC``;
- exactly one tag, one of the document's declared domain tags (``Plugin(api_tag=...)``);
- the one pagination convention: a list answers a ``Page`` (``items``, ``next_cursor``) and
  takes ``limit`` and ``cursor``; no bare arrays, no ``items`` without ``next_cursor``, no
  ``after``/``before``/``offset``.

The problem answers the app really sends are checked against the documented ``Problem``.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from tierline.platform.access import PUBLIC, declared_permission
from tierline.platform.api_docs import api_handlers
from tierline.platform.errors import Problem

PROBLEM_REF = "#/components/schemas/Problem"
WRITES = {"post", "put", "patch"}
# The OAuth2 token endpoint answers RFC 6749 §5.2 errors, as OAuth2 clients expect.
OWN_ERRORS = {"issueAccessToken": "#/components/schemas/OAuthErrorOut"}
OLD_PAGING = {"after", "before", "offset", "page", "page_size", "per_page"}

# Operations that do not meet the rules yet, and the rules they miss. The test fails when an
# operation misses a rule not listed here, and when a listed one meets it now (shrink it).
KNOWN_GAPS: dict[str, set[str]] = {}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _typed(document: dict[str, Any], content: dict[str, Any]) -> bool:
    """Every media type of ``content`` has a schema that says what comes: JSON an object with
    its properties declared (a bare ``{"type": "object"}`` is not), other media a type."""
    if not content:
        return False
    for media_type, media in content.items():
        schema = _resolve(document, media.get("schema") or {})
        if "json" not in media_type:
            if not schema.get("type"):
                return False
        elif not (schema.get("properties") or schema.get("oneOf") or schema.get("anyOf")):
            return False
    return True


def _gaps(document: dict[str, Any], method: str, op: dict[str, Any], public: bool) -> set[str]:
    gaps: set[str] = set()
    if not op.get("operationId"):
        gaps.add("operation_id")
    if not (op.get("description") or "").strip():
        gaps.add("description")
    if method in WRITES and not _typed(document, op.get("requestBody", {}).get("content", {})):
        gaps.add("request_body")
    responses = op.get("responses", {})
    success = [r for status, r in responses.items() if status.startswith("2")]
    if not success or not all(
        status == "204" or _typed(document, r.get("content", {}))
        for status, r in responses.items()
        if status.startswith("2")
    ):
        gaps.add("response")
    statuses = {"400", "404", "422", "503"}
    if not public:
        statuses |= {"401", "403"}
    if method in WRITES | {"delete"}:
        statuses |= {"409", "413", "415"}
    for status in statuses:
        media = responses.get(status, {}).get("content", {}).get("application/problem+json", {})
        own = responses.get(status, {}).get("content", {}).get("application/json", {})
        accepted = {PROBLEM_REF, OWN_ERRORS.get(op.get("operationId", ""))}
        if media.get("schema", {}).get("$ref") != PROBLEM_REF and (
            own.get("schema", {}).get("$ref") not in accepted
        ):
            gaps.add(f"problem_{status}")
    if not public and not op.get("security"):
        gaps.add("security")
    declared = {t["name"] for t in document.get("tags", [])}
    if len(op.get("tags", [])) != 1 or op["tags"][0] not in declared:
        gaps.add("tag")
    gaps |= _paging_gaps(document, op)
    return gaps


def _paging_gaps(document: dict[str, Any], op: dict[str, Any]) -> set[str]:
    gaps: set[str] = set()
    names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    if names & OLD_PAGING:
        gaps.add("paging_params")
    for status, response in op.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        for media in response.get("content", {}).values():
            schema = _resolve(document, media.get("schema") or {})
            props = schema.get("properties", {})
            if schema.get("type") == "array":
                gaps.add("bare_list")
            elif "next_cursor" in props and {"limit", "cursor"} - names:
                gaps.add("paging_params")
            elif props.get("items", {}).get("type") == "array" and "next_cursor" not in props:
                gaps.add("unpaged_list")
    return gaps


async def test_every_api_operation_is_fit_for_a_client_generator(
    document: dict[str, Any], app: Litestar
) -> None:
    public = {
        handler.operation_id
        for handler in api_handlers(app)
        if declared_permission(handler) == PUBLIC
    }
    found: dict[str, set[str]] = {}
    operations = _operations(document)
    assert len(operations) > 50
    for path, method, op in operations:
        gaps = _gaps(document, method, op, op.get("operationId") in public)
        if gaps:
            found[op.get("operationId") or f"{method} {path}"] = gaps
    assert found == KNOWN_GAPS


async def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _p, _m, op in _operations(document)]
    assert len(ids) == len(set(ids))


async def test_schema_names_are_unique(document: dict[str, Any]) -> None:
    """Two structs of one name are told apart by Litestar with their module path, and client
    generators then refuse both (or make one model of two): every schema name is distinct."""
    titles = [s.get("title", name) for name, s in document["components"]["schemas"].items()]
    twice = sorted({t for t in titles if titles.count(t) > 1})
    assert twice == [], f"schema names used twice: {twice}"


async def test_security_schemes_cover_tokens_cookies_and_the_operator(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/oauth/token"
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie" and schemes["csrf"]["in"] == "header"
    assert schemes["operator"]["scheme"] == "bearer"
    ops = {op["operationId"]: op for _p, _m, op in _operations(document)}
    assert ops["createTenant"]["security"] == [{"operator": []}]
    assert not ops["issueAccessToken"].get(
        "security"
    )  # public: the client authenticates in the body
    assert ops["upsertCustomer"]["security"] == [
        {"oauth2": ["masterdata:write"]},  # an API client needs the permission as its scope
        {"bearer": []},
        {"session": [], "csrf": []},
    ]
    assert {"session": []} in ops["getCustomer"]["security"]
    assert ops["portalEntitlements"]["security"] == [{"session": []}]  # customers sign in
    scopes = schemes["oauth2"]["flows"]["clientCredentials"]["scopes"]
    assert "masterdata:write" in scopes and "portal:self" not in scopes


async def test_the_problems_the_app_sends_are_the_documented_shape(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    schema = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "code", "errors"} <= set(
        schema["properties"]
    )
    unauthorised = await client.get("/api/v1/customers")
    missing = await client.get("/api/v1/no-such-thing")
    for answer, status, code in ((unauthorised, 401, "unauthorized"), (missing, 404, "not_found")):
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = msgspec.convert(answer.json(), Problem)
        assert (problem.status, problem.code, problem.errors) == (status, code, [])
        assert problem.instance == answer.request.url.path and problem.request_id
