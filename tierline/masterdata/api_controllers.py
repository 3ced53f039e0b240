"""Real-time API: single and batch upserts of customers, products and order lines.

Records go through the same validation and COPY-based upsert as file imports, all or nothing
per request, with per-record errors. ``Idempotency-Key`` makes retries safe: the same key with
the same body answers the stored response; with another body it is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import polars as pl
from litestar import Request, Response, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tierline.masterdata.entities import entity
from tierline.masterdata.importing import run_import
from tierline.masterdata.models import IdempotencyKey
from tierline.masterdata.profiles import presets
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.routing import Api
from tierline.platform.tenancy import tenant_session

MAX_BATCH = 50_000
ROUTED = {"customers": "customers", "products": "products", "order-lines": "order_lines"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise ValueError("nested objects are not accepted; send flat attribute values")
    return str(value)


def records_frame(entity_name: str, records: list[Any]) -> pl.DataFrame:
    spec = entity(entity_name)
    known = {f.name for f in spec.fields}
    problems = []
    rows: list[dict[str, str | None]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(
                {"index": index, "field": None, "reason": "a record must be a JSON object"}
            )
            continue
        unknown = sorted(set(record) - known) if not spec.extra_attributes else []
        for name in unknown:
            problems.append(
                {"index": index, "field": name, "reason": f"unknown attribute of {spec.name}"}
            )
        try:
            rows.append({k: _text(v) for k, v in record.items()})
        except ValueError as exc:
            problems.append({"index": index, "field": None, "reason": str(exc)})
    if problems:
        raise ValidationException("invalid records", extra=problems)
    columns = sorted({k for r in rows for k in r})
    return pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String)
    )


def _request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def _replay(principal: Principal, key: str, digest: str) -> Response[Any] | None:
    async with tenant_session(principal.tenant) as s:
        found = (
            await s.execute(
                select(IdempotencyKey).where(
                    IdempotencyKey.principal == principal.subject, IdempotencyKey.key == key
                )
            )
        ).scalar_one_or_none()
    if found is None:
        return None
    if found.request_hash != digest:
        raise ValidationException("Idempotency-Key was already used with a different request body")
    return Response(
        found.response, status_code=found.status_code, headers={"Idempotent-Replay": "true"}
    )


async def _remember(principal: Principal, key: str, digest: str, status: int, body: Any) -> None:
    async with tenant_session(principal.tenant) as s:
        await s.execute(
            pg_insert(IdempotencyKey)
            .values(
                principal=principal.subject,
                key=key[:200],
                request_hash=digest,
                status_code=status,
                response=body,
            )
            .on_conflict_do_nothing()
        )


async def _upsert(
    state: State,
    principal: Principal,
    entity_name: str,
    records: list[Any],
    source: str,
    request: Request[Any, Any, Any],
) -> Response[Any]:
    key = request.headers.get("idempotency-key")
    digest = _request_hash(await request.body())
    if key:
        replay = await _replay(principal, key, digest)
        if replay is not None:
            return replay
    if not records:
        raise ValidationException("records: send at least one record")
    if len(records) > MAX_BATCH:
        raise ValidationException(f"records: at most {MAX_BATCH:,} per request")
    frame = records_frame(entity_name, records)
    profile = presets()[f"generic_{entity_name}"]
    if source != "erp":
        import dataclasses

        profile = dataclasses.replace(profile, source_system=source)
    actor = actor_of(request, principal)
    result = await run_import(
        state.runtime,
        principal.tenant,
        entity_name,
        frame,
        profile,
        actor,
        file_name=f"api:{entity_name}",
    )
    if result.status == "applied":
        status, body = (
            200,
            {
                "status": "applied",
                "import_id": str(result.import_id),
                "received": result.total_rows,
                "inserted": result.inserted,
                "updated": result.updated,
                "unchanged": result.unchanged,
            },
        )
    else:
        status, body = (
            422,
            {
                "status": "rejected",
                "import_id": str(result.import_id),
                "error_count": result.error_count,
                "errors": [
                    {
                        "index": (e["line"] - 1) if e["line"] else None,
                        "field": e["column"],
                        "value": e["value"],
                        "reason": e["reason"],
                    }
                    for e in result.errors
                ],
            },
        )
    if key:
        await _remember(principal, key, digest, status, body)
    return Response(body, status_code=status)


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
        tags=["master data"],
        status_code=200,
    )
    async def handler(
        principal: NamedDependency[Principal], state: State, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Upsert up to 50,000 records in one transaction; 422 with per-record errors."""
        data = json.loads(await request.body() or b"null")
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
        tags=["master data"],
        status_code=200,
    )
    async def handler(
        principal: NamedDependency[Principal], state: State, request: Request[Any, Any, Any]
    ) -> Response[Any]:
        """Create or update one record; the key comes from the path."""
        data = json.loads(await request.body() or b"null")
        if not isinstance(data, dict):
            raise ValidationException("send one JSON object with the record's attributes")
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
