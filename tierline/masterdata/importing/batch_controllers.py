"""Real-time API: single and batch upserts of customers, products and order lines.

Records go through the same validation and COPY-based upsert as file imports, all or nothing
per request, with per-record errors. ``Idempotency-Key`` makes retries safe: the same key with
the same body answers the stored response; with another body it is refused.

Bodies are read the one typed way every JSON endpoint reads them (``request_body``): a wrong
content type, malformed JSON, invalid UTF-8, NUL characters, lone surrogates and integers
beyond 64 bits are refused with a problem naming the reason, before anything is written.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException

from tierline.masterdata.importing.batches import (
    MAX_BATCH,
    remember,
    replay,
    request_hash,
    upsert_records,
)
from tierline.platform.access import requires
from tierline.platform.documents import Bounds
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.request_body import json_body, json_object
from tierline.platform.routing import Api

ROUTED = {"customers": "customers", "products": "products", "order-lines": "order_lines"}


async def _upsert(
    state: State,
    principal: Principal,
    entity_name: str,
    records: list[Any],
    source: str,
    request: Request[Any, Any, Any],
) -> Response[Any]:
    key = request.headers.get("idempotency-key")
    digest = request_hash(await request.body())
    if key:
        replayed = await replay(principal, key, digest)
        if replayed is not None:
            status, body = replayed
            return Response(body, status_code=status, headers={"Idempotent-Replay": "true"})
    actor = actor_of(request, principal)
    status, body = await upsert_records(
        state.runtime, principal.tenant, entity_name, records, source, actor
    )
    if key:
        await remember(principal, key, digest, status, body)
    return Response(body, status_code=status)


def _batch_bounds(state: State) -> Bounds:
    """A batch may be as large as the request limit allows: up to 50,000 flat records, each
    with its fields and extra attributes (the records themselves are checked one by one)."""
    return Bounds(
        max_bytes=state.settings.max_request_bytes,
        max_depth=8,
        max_values=MAX_BATCH * 80,
        max_aliases=0,
    )


def _batch_records(data: Any) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValidationException('send {"records": [ ... ]}')
    return list(data["records"])


def _source(request: Request[Any, Any, Any]) -> str:
    source = request.query_params.get("source", "erp").lower()
    if not source.replace("_", "").isalnum() or len(source) > 40:
        raise ValidationException("source: letters, digits and '_' (at most 40)")
    return source


def _batch_route(path: str, entity_name: str, op: str) -> Any:
    @post(
        path,
        guards=[requires("masterdata:write")],
        operation_id=op,
        name=op,
        status_code=200,
    )
    async def handler(
        principal: NamedDependency[Principal], state: State, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Upsert up to 50,000 records in one transaction; 422 with per-record errors."""
        data = await json_body(request, _batch_bounds(state))
        return await _upsert(
            state, principal, entity_name, _batch_records(data), _source(request), request
        )

    return handler


def _single_route(path: str, entity_name: str, op: str, keys: tuple[str, ...]) -> Any:
    @put(
        path,
        guards=[requires("masterdata:write")],
        operation_id=op,
        name=op,
        status_code=200,
    )
    async def handler(
        principal: NamedDependency[Principal], state: State, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Create or update one record; the key comes from the path."""
        data = await json_object(request)
        for k in keys:
            supplied = data.get(k)
            from_path = request.path_params[k]
            if supplied is not None and str(supplied) != str(from_path):
                raise ValidationException(
                    f"{k}: the body says {supplied!r} but the path says {from_path!r}"
                )
            data[k] = from_path
        return await _upsert(state, principal, entity_name, [data], _source(request), request)

    return handler


ROUTES = [
    Api(
        _batch_route("/customers:batch", "customers", "batchUpsertCustomers"),
        _batch_route("/products:batch", "products", "batchUpsertProducts"),
        _batch_route("/order-lines:batch", "order_lines", "batchUpsertOrderLines"),
        _single_route("/customers/{code:str}", "customers", "upsertCustomer", ("code",)),
        _single_route("/products/{sku:str}", "products", "upsertProduct", ("sku",)),
        _single_route(
            "/order-lines/{order_no:str}/{line_no:int}",
            "order_lines",
            "upsertOrderLine",
            ("order_no", "line_no"),
        ),
    )
]
