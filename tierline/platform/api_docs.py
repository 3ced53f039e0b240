"""Finishes the OpenAPI document of ``/api``: problem responses, security, one tag per domain.

What every API operation shares is stated here once rather than on each handler (Litestar's
``responses=`` is not layered: a ``Router``'s would not reach its handlers):

- the RFC 9457 ``Problem`` (``errors.Problem``, what ``errors.problem_response`` returns) on
  each error status the operation can answer: 400, 404, 422 and 503 (a region down) on every
  one; 401 and 403 when it needs a credential; 409, 413 and 415 when it writes; 429 when it is
  throttled (``opt={"throttled": True}``); a handler's own ``responses`` win;
- its security requirement, from the permission it declares (``access.requires``): none for
  ``PUBLIC``, the operator token for ``OPERATOR``, else an OAuth2 client-credentials bearer
  token holding the permission as a scope (when clients may hold it) or the browser's session
  cookie (with the CSRF header when it writes);
- its tag: the ``api_tag`` of the package that declares it (``Plugin(api_tag=...)``).

``document_api(app)`` runs once on the assembled app, before the document is first built;
``tests/platform/test_openapi.py`` walks the result and fails on an operation left short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    OAuthFlow,
    OAuthFlows,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Tag,
)
from litestar.routes import HTTPRoute

from tierline.platform.access import OPERATOR, PUBLIC, declared_permission
from tierline.platform.errors import PROBLEM_JSON, Problem

API_PATH = "/api/"
TOKEN_URL = "/api/v1/oauth/token"  # noqa: S105 (a path, not a secret)
SESSION_COOKIE = "tl_session"  # identity.sessions.SESSION_COOKIE (the chassis reads no domain)
CSRF_HEADER = "X-CSRF-Token"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PROBLEMS: dict[int, str] = {
    400: "The request is malformed: a parameter or cursor that does not parse, a refusal.",
    401: "No valid credential (missing, expired or revoked token; no session).",
    403: "The credential lacks the operation's permission, or the CSRF header is missing.",
    404: "Not found, or not visible to this caller (another tenant's or customer's).",
    409: "Conflicts with the current state (decided meanwhile, a duplicate, a reused key).",
    413: "The body is larger than the request limit.",
    415: "The body is not JSON.",
    422: "The body does not fit the operation's schema; ``errors`` names every field.",
    429: "Too many attempts; retry after the ``Retry-After`` seconds.",
    503: "The tenant's region or a service it needs is briefly unavailable; retry.",
}

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "oauth2": SecurityScheme(
        type="oauth2",
        description="API clients (ERP, 3PL) exchange their client id and secret for a "
        "short-lived JWT (OAuth2 client credentials) and send it as a bearer token.",
        flows=OAuthFlows(client_credentials=OAuthFlow(token_url=TOKEN_URL, scopes={})),
    ),
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description=f"The access token from ``POST {TOKEN_URL}``.",
    ),
    "session": SecurityScheme(
        type="apiKey",
        name=SESSION_COOKIE,
        security_scheme_in="cookie",
        description="A signed-in browser's session cookie (staff or portal user).",
    ),
    "csrf": SecurityScheme(
        type="apiKey",
        name=CSRF_HEADER,
        security_scheme_in="header",
        description="The session's CSRF token; required with the session cookie on writes.",
    ),
    "operator": SecurityScheme(
        type="http",
        scheme="bearer",
        description="The platform operator's token (TIERLINE_OPERATOR_TOKEN): tenant lifecycle.",
    ),
}


def form_body(
    title: str, properties: dict[str, Schema | Reference], required: list[str]
) -> type[Operation]:
    """An ``operation_class`` documenting an ``application/x-www-form-urlencoded`` body that
    the handler reads itself (the OAuth2 token endpoint answers its own RFC 6749 errors, so
    Litestar must not parse the form first)."""
    schema = Schema(title=title, type=OpenAPIType.OBJECT, properties=properties, required=required)

    @dataclass
    class FormBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/x-www-form-urlencoded": OpenAPIMediaType(schema=schema)},
                required=True,
            )

    return FormBodyOperation


def query_parameters(**described: str) -> type[Operation]:
    """An ``operation_class`` documenting optional text query parameters a handler reads
    itself (the portal's hottest route skips Litestar's parameter parsing)."""
    from litestar.enums import ParamType
    from litestar.openapi.spec import Parameter

    documented = [
        Parameter(
            name=name,
            param_in=ParamType.QUERY,
            required=False,
            description=text,
            schema=Schema(type=OpenAPIType.STRING),
        )
        for name, text in described.items()
    ]

    @dataclass
    class QueryParametersOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *documented]

    return QueryParametersOperation


def file_response(media_type: str, description: str) -> dict[int, ResponseSpec]:
    """``responses=`` of an operation answering a file (CSV, XLSX, a write-back): Litestar
    would document a streamed or ``bytes`` answer as JSON."""
    return {
        200: ResponseSpec(
            data_container=bytes,
            generate_examples=False,
            description=description,
            media_type=media_type,
        )
    }


def _client_scopes() -> dict[str, str]:
    """The permissions an API client may be granted (its OAuth2 scopes), described."""
    from tierline.platform.identity.clients import CLIENT_SCOPES
    from tierline.policies.permissions import PERMISSIONS

    return {name: PERMISSIONS[name].description for name in sorted(CLIENT_SCOPES)}


def components() -> list[Components]:
    """What ``OpenAPIConfig(components=...)`` adds: the security schemes, the OAuth2 flow
    listing every scope a client may hold."""
    schemes: dict[str, SecurityScheme | Reference] = dict(SECURITY_SCHEMES)
    schemes["oauth2"] = SecurityScheme(
        type="oauth2",
        description=SECURITY_SCHEMES["oauth2"].description,
        flows=OAuthFlows(
            client_credentials=OAuthFlow(token_url=TOKEN_URL, scopes=_client_scopes())
        ),
    )
    return [Components(security_schemes=schemes)]


def tags(declared: list[tuple[str, str]]) -> list[Tag]:
    """The document's tag list from each package's ``(api_tag, description)``."""
    return [Tag(name=name, description=description) for name, description in declared]


def problem_statuses(handler: HTTPRouteHandler, permission: str | None) -> list[int]:
    """The error statuses ``handler`` can answer (see the module docstring)."""
    statuses = [400, 404, 422, 503]
    if permission != PUBLIC:
        statuses += [401, 403]
    if WRITES & set(handler.http_methods):
        statuses += [409, 413, 415]
    if handler.opt.get("throttled"):
        statuses.append(429)
    return sorted(statuses)


def security_for(handler: HTTPRouteHandler, permission: str | None) -> list[dict[str, list[str]]]:
    """The operation's security requirement: any one of the listed alternatives. An API
    client needs the operation's permission as its OAuth2 scope; an operation no client may
    be granted (a customer's in the portal, user administration) takes the session only."""
    if permission == PUBLIC:
        return []
    if permission == OPERATOR:
        return [{"operator": []}]
    writes = WRITES & set(handler.http_methods)
    browser: dict[str, list[str]] = {"session": [], "csrf": []} if writes else {"session": []}
    if permission is None or permission not in _client_scopes():
        return [browser]
    return [{"oauth2": [permission]}, {"bearer": []}, browser]


def _document(handler: HTTPRouteHandler, tag: str | None) -> None:
    permission = declared_permission(handler)
    own = dict(handler.responses or {})
    for status in problem_statuses(handler, permission):
        own.setdefault(
            status,
            ResponseSpec(
                data_container=Problem,
                generate_examples=False,
                description=PROBLEMS[status],
                media_type=PROBLEM_JSON,
            ),
        )
    handler.responses = own
    handler.security = security_for(handler, permission)
    if tag is not None:
        handler.tags = [tag]


def api_handlers(app: Litestar) -> list[HTTPRouteHandler]:
    """Every handler serving a path under ``/api/``."""
    found: list[HTTPRouteHandler] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith(API_PATH):
            found.extend(h for h in route.route_handlers if h not in found)
    return found


def document_api(app: Litestar, tag_of: Any) -> None:
    """Finish every ``/api`` operation's documentation; ``tag_of(module)`` is the tag of the
    package declaring a handler's module (``assembly.api_tag_of``)."""
    for handler in api_handlers(app):
        _document(handler, tag_of(handler.fn.__module__))


_GENERIC = re.compile(r"^(?P<outer>[A-Za-z]+)_(?P<inner>[A-Za-z0-9_.]+)_$")


def name_generic_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Give generic components names a generator turns into class names: Litestar names
    ``Page[tierline.segmentation.runs.schemas.RunOut]`` ``Page_tierline..._RunOut_``; this
    renames it ``RunPage`` (the item's name without ``Out``, then the generic's), references
    included. Idempotent: the document is renamed in place, once."""
    schemas = document.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in list(schemas):
        found = _GENERIC.match(name)
        if not found:
            continue
        inner = found["inner"].rsplit(".", 1)[-1].removesuffix("Out")
        new = f"{inner}{found['outer']}"
        if new in schemas or new in renames.values():
            new = f"{found['outer']}Of{inner}"
        renames[name] = new
    if not renames:
        return document
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new
    refs = {f"#/components/schemas/{o}": f"#/components/schemas/{n}" for o, n in renames.items()}
    _replace_refs(document, refs)
    return document


def _replace_refs(node: Any, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for value in node.values():
            _replace_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _replace_refs(value, refs)


class ApiDocumentJson(JsonRenderPlugin):
    """``/schema/openapi.json``: Litestar's document with generic components named for
    client generators (``name_generic_schemas``)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, name_generic_schemas(openapi_schema))
