"""Segmentation scheme documents: parse, validate, canonicalise, hash, describe.

The public face of the scheme modules. A scheme arrives as YAML or JSON text (or an already
parsed mapping), is type-checked field by field (``shape``), decoded into Structs
(``model``) and checked as a whole (``validation``); every problem is reported
at once with its path and source line. The canonical form fills every default, so two
documents that differ only in layout, comments, key order or spelled-out defaults have the
same ``content_hash`` -- the value a run records to say which rules produced it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from tierline.segmentation.schemes.library import load_template, template_names
from tierline.segmentation.schemes.lines import line_for, load_text
from tierline.segmentation.schemes.model import (
    AbcClassifier,
    AbcThresholds,
    Classifiers,
    DataChecks,
    Exception_,
    FreezeWindow,
    LifecycleException,
    ParsedScheme,
    Reclassification,
    Rule,
    Schedule,
    Scheme,
    SchemeInvalid,
    SchemeIssue,
    Segment,
    Stability,
    Variability,
    Window,
    XyzClassifier,
    XyzThresholds,
)
from tierline.segmentation.schemes.schedule import in_freeze, next_run_after
from tierline.segmentation.schemes.shape import shape_errors
from tierline.segmentation.schemes.validation import SchemeValidator

__all__ = [
    "AbcClassifier",
    "AbcThresholds",
    "Classifiers",
    "DataChecks",
    "Exception_",
    "FreezeWindow",
    "LifecycleException",
    "ParsedScheme",
    "Reclassification",
    "Rule",
    "Schedule",
    "Scheme",
    "SchemeInvalid",
    "SchemeIssue",
    "Segment",
    "Stability",
    "Variability",
    "Window",
    "XyzClassifier",
    "XyzThresholds",
    "content_hash",
    "in_freeze",
    "load_template",
    "next_run_after",
    "parse_scheme",
    "scheme_from_dict",
    "scheme_json_schema",
    "scheme_to_dict",
    "segment_rank",
    "template_names",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def parse_scheme(text: str) -> ParsedScheme:
    """A valid scheme from YAML or JSON text; SchemeInvalid lists every problem with its line."""
    data, lines = load_text(text)
    return _validated(data, lines)


def scheme_from_dict(data: dict[str, Any]) -> ParsedScheme:
    """A valid scheme from already-parsed data (e.g. a JSON request body); no line numbers."""
    return _validated(data, {})


def _validated(data: Any, lines: dict[str, int]) -> ParsedScheme:
    def issues(found: list[tuple[str, str]]) -> list[SchemeIssue]:
        return [SchemeIssue(path, message, line_for(lines, path)) for path, message in found]

    if not isinstance(data, dict):
        raise SchemeInvalid([SchemeIssue("", "A scheme must be a mapping of keys", 1)])
    shape = shape_errors(data, Scheme)
    if shape:
        raise SchemeInvalid(issues(shape))
    scheme = msgspec.convert(data, Scheme)
    errors, warnings = SchemeValidator(scheme).run()
    if errors:
        raise SchemeInvalid(issues(errors))
    return ParsedScheme(scheme=scheme, warnings=issues(warnings))


# Keys added after schemes were first published, left out of the canonical form while they hold
# their default: the content hash of every version published before them stays what it was.
_LATER_KEYS = {("variability", "since"): "window"}


def scheme_to_dict(scheme: Scheme) -> dict[str, Any]:
    """The canonical mapping: document key names, every default filled (except later keys at
    their default: see ``_LATER_KEYS``), rules minimal."""
    result: dict[str, Any] = msgspec.to_builtins(scheme)
    for (section, key), default in _LATER_KEYS.items():
        if result.get(section, {}).get(key) == default:
            del result[section][key]
    return result


def content_hash(scheme: Scheme) -> str:
    """``sha256:<hex>`` of the canonical JSON (sorted keys, no whitespace)."""
    canonical = msgspec.json.encode(scheme_to_dict(scheme), order="sorted")
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def scheme_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the document, for editors and the API.

    It describes shapes and single-field limits; cross-field rules (threshold order,
    references, reachability) are only checked by ``parse_scheme``.
    """
    schema: dict[str, Any] = msgspec.json.schema(Scheme)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "https://tierline.example/schemas/segmentation-scheme.json",
        "title": "Tierline segmentation scheme",
        **schema,
    }


def segment_rank(scheme: Scheme) -> dict[str, int]:
    """Segment code -> rank (1 = highest priority)."""
    return {segment.code: segment.rank for segment in scheme.segments}
