"""API shapes of the real-time upserts: the records (documented from the entity declarations,
so the document and the validation never disagree) and the answers."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema

from tierline.masterdata.importing.entities import EntitySpec, Field, entity

_TYPES: dict[str, Schema] = {
    "str": Schema(type=OpenAPIType.STRING),
    "code": Schema(type=OpenAPIType.STRING),
    "int": Schema(type=OpenAPIType.INTEGER),
    "decimal": Schema(type=OpenAPIType.NUMBER),
    "money": Schema(type=OpenAPIType.NUMBER, description="Money, in the tenant's currency."),
    "date": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE),
    "datetime": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    "bool": Schema(type=OpenAPIType.BOOLEAN),
}


def _field_schema(field: Field) -> Schema:
    base = _TYPES[field.kind]
    return Schema(
        type=base.type,
        format=base.format,
        description=base.description,
        max_length=field.max_len,
        enum=list(field.choices) if field.choices else None,
        minimum=field.minimum,
        maximum=field.maximum,
    )


def _properties(spec: EntitySpec) -> dict[str, Schema]:
    return {f.name: _field_schema(f) for f in spec.fields}


def record_schema(entity_name: str, keyed_by_path: bool = False) -> dict[str, Any]:
    """``Body(schema_extra=...)`` for one record of ``entity_name``: its fields, the required
    ones (the key is optional when the path gives it), and — for entities that keep unmapped
    source columns — any further attributes."""
    spec = entity(entity_name)
    required = [n for n in spec.required if not (keyed_by_path and n in spec.key)]
    return {
        "type": OpenAPIType.OBJECT,
        "properties": _properties(spec),
        "required": sorted(required) or None,
        "additional_properties": spec.extra_attributes,
    }


def batch_schema(entity_name: str) -> dict[str, Any]:
    """``Body(schema_extra=...)`` for ``{"records": [...]}`` of ``entity_name``."""
    record = Schema(**record_schema(entity_name))
    return {
        "type": OpenAPIType.OBJECT,
        "properties": {"records": Schema(type=OpenAPIType.ARRAY, items=record)},
        "required": ["records"],
    }


class KeptRecordOut(msgspec.Struct):
    """A record whose sent values lost to another source's (survivorship)."""

    index: int | None
    key: str
    fields: list[dict[str, Any]]


class UpsertOut(msgspec.Struct):
    """The records were applied, all of them, in one transaction."""

    status: str
    import_id: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    to_steward: int
    kept: list[KeptRecordOut]


class ImportErrorOut(msgspec.Struct):
    """A row refused by an import: the file's line, the column, the value and why."""

    line: int | None
    column: str | None
    value: str | None
    reason: str


class ImportOut(msgspec.Struct):
    """An import of a file: its status, counts and first row errors."""

    id: str
    entity: str
    profile: str
    status: str
    file_name: str
    file_sha256: str | None
    total_rows: int
    inserted: int
    updated: int
    unchanged: int
    to_steward: int
    error_count: int
    failure_reason: str | None
    errors: list[ImportErrorOut]
