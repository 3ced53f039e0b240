"""Real-time API: single and batch upserts of customers, products and order lines.

Records go through the same validation and COPY-based upsert as file imports, all or nothing
per request, with per-record errors. ``Idempotency-Key`` makes retries safe: the same key with
the same body answers the stored response; with another body it is refused.

Bodies are read the one typed way every JSON endpoint reads them (``request_body``): a wrong
content type, malformed JSON, invalid UTF-8, NUL characters, lone surrogates and integers
beyond 64 bits are refused with a problem naming the reason, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import Body, Parameter

from tierline.masterdata.importing.batches import (
    MAX_BATCH,
    remember,
    replay,
    request_hash,
    upsert_records,
)
from tierline.masterdata.importing.schemas import UpsertOut, batch_schema, record_schema
from tierline.platform.access import requires
from tierline.platform.documents import Bounds
from tierline.platform.errors import problem_response
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.routing import Api

F = TypeVar("F", bound=Callable[..., Any])
SOURCE = Parameter(
    description="The source system the records come from (letters, digits, '_'; at most 40).",
    max_length=40,
)

ROUTED = {"customers": "customers", "products": "products", "order-lines": "order_lines"}


async def _upsert(
    state: State,
    principal: Principal,
    entity_name: str,
    records: list[Any],
    source: str,
    request: Request[Any, Any, Any],
) -> Response[UpsertOut]:
    key = request.headers.get("idempotency-key")
    digest = request_hash(await request.body())
    if key:
        replayed = await replay(principal, key, digest)
        if replayed is not None:
            status, body = replayed
            return _answer(request, status, body, {"Idempotent-Replay": "true"})
    actor = actor_of(request, principal)
    status, body = await upsert_records(
        state.runtime, principal.tenant, entity_name, records, source, actor
    )
    if key:
        await remember(principal, key, digest, status, body)
    return _answer(request, status, body)


def _answer(
    request: Request[Any, Any, Any],
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """Applied records as ``UpsertOut``; refused ones as a 422 problem naming every record's
    fields (``index``, ``field``, ``reason``), with the import's id and error count."""
    if status < 400:
        return Response(body, status_code=status, headers=headers)
    errors = body.get("errors", [])
    return problem_response(
        request,
        status,
        f"{body.get('error_count', len(errors))} problem(s) in the records; nothing was applied",
        "Records refused",
        {
            "status": body.get("status", "rejected"),
            "import_id": body.get("import_id"),
            "error_count": body.get("error_count", len(errors)),
            "errors": [{**e, "field": e.get("field") or "body", "source": "body"} for e in errors],
        },
        headers,
        code="records_refused",
    )


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


def _source(given: str) -> str:
    source = given.lower()
    if not source.replace("_", "").isalnum() or len(source) > 40:
        raise ValidationException("source: letters, digits and '_' (at most 40)")
    return source


def _entity_title(entity_name: str) -> str:
    return entity_name.title().replace("_", "")  # order_lines -> OrderLines


def _with_body(title: str, schema: dict[str, Any]) -> Callable[[F], F]:
    """Document ``data`` (a JSON object the importer validates field by field, so extra ERP
    attributes survive) with the entity's declared fields: the annotation is set on the
    function, as a closure's values cannot be named in a postponed annotation."""

    def mark(fn: F) -> F:
        fn.__annotations__["data"] = Annotated[
            dict[str, Any], Body(title=title, schema_extra=schema, schema_component_key=title)
        ]
        return fn

    return mark


def _batch_route(path: str, entity_name: str, op: str) -> Any:
    @post(
        path,
        guards=[requires("masterdata:write")],
        operation_id=op,
        name=op,
        summary=f"Upsert a batch of {entity_name.replace('_', ' ')}",
        status_code=200,
        opt={"body_bounds": _batch_bounds},
    )
    @_with_body(f"{_entity_title(entity_name)}Batch", batch_schema(entity_name))
    async def handler(
        principal: NamedDependency[Principal],
        state: State,
        request: Request[Any, Any, Any],
        data: dict[str, Any],
        source: Annotated[str, SOURCE] = "erp",
    ) -> Response[UpsertOut]:
        """Upsert up to 50,000 records in one transaction, all or nothing; a refusal is a 422
        problem naming each record's ``index`` and ``field``. Send ``Idempotency-Key`` to make
        a retry safe (the same key and body answer the first answer again)."""
        return await _upsert(
            state, principal, entity_name, _batch_records(data), _source(source), request
        )

    return handler


def _single_route(path: str, entity_name: str, op: str, keys: tuple[str, ...]) -> Any:
    @put(
        path,
        guards=[requires("masterdata:write")],
        operation_id=op,
        name=op,
        summary=f"Create or update one of the {entity_name.replace('_', ' ')}",
        status_code=200,
    )
    @_with_body(
        f"{_entity_title(entity_name)[:-1]}Record", record_schema(entity_name, keyed_by_path=True)
    )
    async def handler(
        principal: NamedDependency[Principal],
        state: State,
        request: Request[Any, Any, Any],
        data: dict[str, Any],
        source: Annotated[str, SOURCE] = "erp",
    ) -> Response[UpsertOut]:
        """Create or update one record; its key comes from the path (a different one in the
        body is refused). Refusals as for the batch; ``Idempotency-Key`` as well."""
        for k in keys:
            supplied = data.get(k)
            from_path = request.path_params[k]
            if supplied is not None and str(supplied) != str(from_path):
                raise ValidationException(
                    f"{k}: the body says {supplied!r} but the path says {from_path!r}"
                )
            data[k] = from_path
        return await _upsert(state, principal, entity_name, [data], _source(source), request)

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
