"""API shapes of segmentation schemes. A scheme document may be sent as JSON ``{"text"}`` or
as is (``text/yaml``): the endpoints taking one declare ``opt={"text_body": "text"}``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class SchemeCreateIn(msgspec.Struct):
    """A scheme from its document (``text``), or from a template (``template``, with the new
    scheme's ``code``)."""

    text: str | None = None
    template: str | None = None
    code: str | None = None


class SchemeTextIn(msgspec.Struct):
    """A scheme document (YAML or JSON text)."""

    text: str


class PublishIn(msgspec.Struct):
    """An optional note kept with the published version."""

    note: str | None = None


class DryRunIn(msgspec.Struct):
    """What to try: a document (default: the draft) as of a day (default: today)."""

    text: str | None = None
    as_of: str | None = None


class SchemeIssueOut(msgspec.Struct):
    """A problem (or warning) validation found, at ``path`` and ``line`` of the document."""

    path: str
    line: int | None
    message: str


class SchemeSummaryOut(msgspec.Struct):
    """A scheme with its version in force and run times."""

    code: str
    entity: str
    name: str
    published_version: int | None
    draft_updated_at: datetime | None
    draft_updated_by: str | None
    last_run_at: datetime | None
    next_run_at: datetime | None


class SchemeCreatedOut(SchemeSummaryOut):
    """The created scheme and what validation warned about."""

    warnings: list[SchemeIssueOut]


class SchemeListOut(msgspec.Struct):
    """The tenant's schemes."""

    items: list[SchemeSummaryOut]


class VersionOut(msgspec.Struct):
    """A published version of a scheme."""

    version: int
    content_hash: str
    published_at: datetime
    published_by: str | None
    note: str | None


class PublishedOut(VersionOut):
    """The version just published, of ``scheme``."""

    scheme: str


class SchemeOut(SchemeSummaryOut):
    """A scheme: its draft text and every published version."""

    draft: str | None
    versions: list[VersionOut]


class DraftSavedOut(msgspec.Struct):
    """The draft was kept; whether it is valid, and what validation found."""

    saved: bool
    valid: bool
    errors: list[SchemeIssueOut]
    warnings: list[SchemeIssueOut]


class PreviewOut(msgspec.Struct):
    """What publishing and running the document would do now (nothing is written): counts
    per segment, sample entities, moves, warnings, entities classified on defaults."""

    scheme: str
    total: int
    counts: dict[str, int]
    samples: dict[str, list[dict[str, Any]]]
    moves: list[dict[str, Any]]
    warnings: list[str]
    defaults_used: dict[str, int]
    warnings_scheme: list[SchemeIssueOut]


class JsonSchemaOut(
    msgspec.Struct,
    rename={"schema_uri": "$schema", "schema_id": "$id", "ref": "$ref", "defs": "$defs"},
):
    """The JSON Schema (draft 2020-12) of a scheme document: the document is ``$ref``, its
    parts are in ``$defs``."""

    schema_uri: str
    schema_id: str
    title: str
    ref: str
    defs: dict[str, Any]
