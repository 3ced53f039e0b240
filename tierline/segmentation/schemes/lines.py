"""Read scheme text (YAML or JSON) and remember the source line of every path in it.

Errors point authors at lines, so the text is composed into YAML nodes (which carry marks)
and walked once into ``path -> line``. The loader keeps only ``true``/``false`` as booleans:
YAML 1.1 would turn a country code ``NO`` or a segment ``ON`` into a bool.

Scheme text is untrusted: it is read through ``platform.documents.load_yaml``, which composes
it once and refuses, in linear time and before anything is built from it, a document that is
too large, nests deeper than :data:`SCHEME_BOUNDS` allows or expands through aliases beyond it
(a 511-byte "billion laughs" document expands to billions of values). A refusal is a
``SchemeInvalid`` issue with its line. Parsing and validating a large document still costs
CPU: async callers run :func:`tierline.segmentation.schemes.document.parse_scheme` in a worker
thread.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tierline.platform.documents import Bounds, DocumentRefused, load_yaml, parse_json
from tierline.segmentation.schemes.model import SchemeInvalid, SchemeIssue

# A scheme is a few hundred lines: 64 levels of nesting, 50,000 values once aliases are
# expanded and 200 alias references are far beyond any real one. The byte bound matches the
# 200,000-character limit of the editor and the API at up to four bytes per character.
SCHEME_BOUNDS = Bounds(max_bytes=800_000, max_depth=64, max_values=50_000, max_aliases=200)


class _SchemeLoader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (any case), as in YAML 1.2 and JSON."""


_SchemeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SchemeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def join_path(base: str, key: str | int) -> str:
    """``tree`` + 1 -> ``tree[1]``; ``tree[1]`` + ``when`` -> ``tree[1].when``."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def load_text(text: str) -> tuple[Any, dict[str, int]]:
    """The document's data and its ``path -> 1-based line`` map; SchemeInvalid on bad syntax
    and on a document over :data:`SCHEME_BOUNDS` (too large, too deep, an alias bomb)."""
    try:
        data, node = load_yaml(text, _SchemeLoader, SCHEME_BOUNDS)
    except DocumentRefused as refused:
        raise _invalid(refused) from None
    except yaml.YAMLError as exc:
        return _load_json_or_raise(text, exc)
    except RecursionError:  # belt and braces: load_yaml bounds the depth before building
        raise SchemeInvalid(
            [SchemeIssue("", f"the document nests more than {SCHEME_BOUNDS.max_depth} levels")]
        ) from None
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines)
    return data, lines


def _invalid(refused: DocumentRefused) -> SchemeInvalid:
    return SchemeInvalid([SchemeIssue("", refused.reason, refused.line)])


def _load_json_or_raise(text: str, exc: yaml.YAMLError) -> tuple[Any, dict[str, int]]:
    """JSON that YAML rejects (rare: tabs, odd escapes) still loads, without line marks, within
    the same bounds."""
    try:
        return parse_json(text, SCHEME_BOUNDS), {}
    except DocumentRefused as refused:
        if not refused.reason.startswith("not valid JSON"):
            raise _invalid(refused) from None
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line = mark.line + 1 if mark is not None else None
    raise SchemeInvalid([SchemeIssue("", f"YAML syntax error: {problem}", line)]) from exc


def _walk(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = join_path(path, str(key_node.value))
            lines[key] = key_node.start_mark.line + 1
            _walk(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, join_path(path, index), lines)


def line_for(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the source."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
