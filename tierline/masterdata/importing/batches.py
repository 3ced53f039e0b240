"""The real-time API's records: checked like a file's rows (same entity declarations), imported
through the same validation and COPY-based upsert, all or nothing per request, with per-record
errors; ``Idempotency-Key`` replays are remembered per caller and key."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import polars as pl
from litestar.exceptions import ValidationException
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tierline.masterdata.importing.entities import entity
from tierline.masterdata.importing.models import IdempotencyKey
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.importing.validate import MAX_ATTRIBUTE_NAME, MAX_EXTRA_ATTRIBUTES
from tierline.masterdata.profiles.presets import presets
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

MAX_BATCH = 50_000


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise ValueError("nested objects are not accepted; send flat attribute values")
    return str(value)


def records_frame(entity_name: str, records: list[Any]) -> pl.DataFrame:
    """The records as a frame of text columns, like a file's; unknown attributes (unless the
    entity keeps extra ones) and nested values are refused, every problem at once. Extra
    attributes have a file's bounds: names of at most 64 characters, and at most 50 distinct
    ones in a request (a request is one frame, like a file with one header; values are
    checked like a file's)."""
    spec = entity(entity_name)
    known = {f.name for f in spec.fields}
    problems = []
    rows: list[dict[str, str | None]] = []
    extras: set[str] = set()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(
                {"index": index, "field": None, "reason": "a record must be a JSON object"}
            )
            continue
        unknown = sorted(set(record) - known)
        if not spec.extra_attributes:
            for name in unknown:
                problems.append(
                    {"index": index, "field": name, "reason": f"unknown attribute of {spec.name}"}
                )
        for name in unknown if spec.extra_attributes else ():
            if len(name) > MAX_ATTRIBUTE_NAME:
                problems.append(
                    {
                        "index": index,
                        "field": name[:MAX_ATTRIBUTE_NAME] + "…",
                        "reason": f"extra attribute names may be at most {MAX_ATTRIBUTE_NAME} "
                        "characters long",
                    }
                )
        extras.update(unknown)
        try:
            rows.append({k: _text(v) for k, v in record.items()})
        except ValueError as exc:
            problems.append({"index": index, "field": None, "reason": str(exc)})
    if problems:
        raise ValidationException("invalid records", extra=problems[:1000])
    if spec.extra_attributes and len(extras) > MAX_EXTRA_ATTRIBUTES:
        raise ValidationException(
            f"the records carry {len(extras):,} distinct extra attributes (not attributes of "
            f"{spec.name}); at most {MAX_EXTRA_ATTRIBUTES} are accepted in a request"
        )
    columns = sorted({k for r in rows for k in r})
    return pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String)
    )


def _kept_by_record(
    entity_name: str, records: list[Any], kept: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Records whose sent values lost to another source, by their index in the request:
    which fields, the value sent and the one kept, the source holding it and the rule."""
    if not kept:
        return []
    key = entity(entity_name).key[0]
    index = {str(r.get(key)): i for i, r in reversed(list(enumerate(records)))}
    return [{"index": index.get(k["key"]), **k} for k in kept]


def request_hash(body: bytes) -> str:
    """The request body's SHA-256: a retry must send the same body as the first try."""
    return hashlib.sha256(body).hexdigest()


async def replay(principal: Principal, key: str, digest: str) -> tuple[int, Any] | None:
    """The status and body answered before to this caller for ``key``; None when the key is
    new. The same key with another body is refused."""
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
    return found.status_code, found.response


async def remember(principal: Principal, key: str, digest: str, status: int, body: Any) -> None:
    """Keep the answer to replay it for a retry with the same key."""
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


async def upsert_records(
    runtime: Runtime,
    tenant: TenantRef,
    entity_name: str,
    records: list[Any],
    source: str,
    actor: Actor,
) -> tuple[int, dict[str, Any]]:
    """Import the records; the status (200 applied, 422 rejected) and body to answer."""
    if not records:
        raise ValidationException("records: send at least one record")
    if len(records) > MAX_BATCH:
        raise ValidationException(f"records: at most {MAX_BATCH:,} per request")
    frame = records_frame(entity_name, records)
    profile = presets()[f"generic_{entity_name}"]
    if source != "erp":
        profile = dataclasses.replace(profile, source_system=source)
    result = await run_import(
        runtime, tenant, entity_name, frame, profile, actor, file_name=f"api:{entity_name}"
    )
    if result.status == "applied":
        return 200, {
            "status": "applied",
            "import_id": str(result.import_id),
            "received": result.total_rows,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "to_steward": result.to_steward,
            "kept": _kept_by_record(entity_name, records, result.kept),
        }
    return 422, {
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
    }
