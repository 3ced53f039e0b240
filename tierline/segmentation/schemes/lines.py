"""Read scheme text (YAML or JSON) and remember the source line of every path in it.

Errors point authors at lines, so the text is composed into YAML nodes (which carry marks)
and walked once into ``path -> line``. The loader keeps only ``true``/``false`` as booleans:
YAML 1.1 would turn a country code ``NO`` or a segment ``ON`` into a bool.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tierline.segmentation.schemes.model import SchemeInvalid, SchemeIssue


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
    """The document's data and its ``path -> 1-based line`` map; SchemeInvalid on bad syntax."""
    try:
        node = yaml.compose(text, Loader=_SchemeLoader)
        data = yaml.load(text, Loader=_SchemeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        return _load_json_or_raise(text, exc)
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines)
    return data, lines


def _load_json_or_raise(text: str, exc: yaml.YAMLError) -> tuple[Any, dict[str, int]]:
    """JSON that YAML rejects (rare: tabs, odd escapes) still loads, without line marks."""
    try:
        return json.loads(text), {}
    except ValueError:
        pass
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
