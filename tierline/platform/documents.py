"""Untrusted documents (JSON bodies, YAML and JSON scheme or policy files) read within bounds.

Every document a caller sends is checked before anything is built from it: its size, that it is
UTF-8 without NUL characters or lone surrogates (PostgreSQL refuses both), how deeply it nests,
and how large it becomes once YAML aliases are expanded. A 511-byte YAML file of nested aliases
expands to billions of nodes: PyYAML shares the aliased nodes, so composing it is cheap, but any
walk over the result (validation, line maps, canonical JSON) is exponential and blocked the
event loop for every tenant. The expanded size and depth are computed here in linear time,
once per distinct node, and a document over the bounds is refused with the reason.

Parsing is cheap for small documents; callers run large ones off the event loop
(``asyncio.to_thread``) — ``read_json_body`` does so above ``INLINE_BYTES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import yaml

from tierline.platform.errors import DomainError

INLINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Bounds:
    """How large a document may be: bytes, nesting levels, values once aliases are expanded,
    and alias references (YAML)."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_values: int = 200_000
    max_aliases: int = 200


DEFAULT_BOUNDS = Bounds()


class DocumentRefused(DomainError):
    """The document cannot be read: ``reason`` says why in a sentence for its author; ``line``
    is 1-based when known."""

    status_code = 422
    title = "Invalid document"

    def __init__(self, reason: str, line: int | None = None, status_code: int = 422) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason, self.line = reason, line
        self.status_code = status_code


def _too_large(size: int, bounds: Bounds) -> DocumentRefused:
    return DocumentRefused(
        f"the document has {size:,} bytes; at most {bounds.max_bytes:,} are accepted",
        status_code=413,
    )


def decode_utf8(raw: bytes, bounds: Bounds = DEFAULT_BOUNDS) -> str:
    """``raw`` as text: within the size bound, valid UTF-8, no NUL character."""
    if len(raw) > bounds.max_bytes:
        raise _too_large(len(raw), bounds)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DocumentRefused(
            f"the text is not valid UTF-8 (byte {exc.start + 1}: 0x{raw[exc.start]:02x})", line
        ) from None
    return _checked_text(text)


def _checked_text(text: str) -> str:
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DocumentRefused("the text contains a NUL character (\\u0000)", line)
    return text


# ---------------------------------------------------------------------------------------------
# JSON


def parse_json(raw: bytes | str, bounds: Bounds = DEFAULT_BOUNDS) -> Any:
    """A JSON document within ``bounds``, as plain Python values."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > bounds.max_bytes:
        raise _too_large(len(data), bounds)
    try:
        value = msgspec.json.decode(data)
    except msgspec.ValidationError as exc:  # an integer beyond 64 bits
        raise DocumentRefused(f"a number is too large ({exc})") from None
    except msgspec.DecodeError as exc:
        if isinstance(raw, bytes):
            decode_utf8(raw, bounds)  # names a bad byte if that is what broke it
        raise DocumentRefused(f"not valid JSON: {_plain(str(exc))}") from None
    except RecursionError:
        raise DocumentRefused(
            f"the document nests more than {bounds.max_depth} levels deep"
        ) from None
    check_values(value, bounds)
    return value


def _plain(message: str) -> str:
    message = message.removeprefix("JSON is malformed: ")
    if message == "Input data was truncated":  # also what msgspec says of a lone \ud800
        return "it ends too early, or holds an invalid escape such as a lone \\ud800"
    return message


def check_values(value: Any, bounds: Bounds = DEFAULT_BOUNDS) -> None:
    """Walk a parsed document once (without recursion): depth, value count, and text that
    PostgreSQL could not store (NUL, lone surrogates) in keys and strings."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > bounds.max_values:
            raise DocumentRefused(f"the document holds more than {bounds.max_values:,} values")
        if depth > bounds.max_depth:
            raise DocumentRefused(f"the document nests more than {bounds.max_depth} levels deep")
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    _check_string(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise DocumentRefused("a text value contains a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentRefused("a text value contains a lone surrogate (e.g. \\ud800)") from None


# ---------------------------------------------------------------------------------------------
# YAML


def compose_yaml(
    text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader, bounds: Bounds = DEFAULT_BOUNDS
) -> yaml.Node | None:
    """The document's node graph, refused before anything is built from it when it is too
    large, too deep, or expands (through aliases) beyond the bounds."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > bounds.max_bytes:
        raise _too_large(size, bounds)
    _checked_text(text)
    try:
        node = yaml.compose(text, Loader=loader)
    except RecursionError:
        raise DocumentRefused(
            f"the document nests more than {bounds.max_depth} levels deep"
        ) from None
    if node is not None:
        measure_nodes(node, bounds)
    return node


def load_yaml(
    text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader, bounds: Bounds = DEFAULT_BOUNDS
) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node graph (for line numbers), composed once and checked
    (``compose_yaml``) before the data is built."""
    node = compose_yaml(text, loader, bounds)
    if node is None:
        return None, None
    builder = loader("")
    try:
        data = builder.construct_document(node)
    finally:
        builder.dispose()
    check_values(data, bounds)
    return data, node


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def measure_nodes(root: yaml.Node, bounds: Bounds = DEFAULT_BOUNDS) -> tuple[int, int]:
    """The expanded value count and depth of a composed YAML document, each node measured
    once (aliases share nodes), so a bomb costs linear time to recognise. Refuses documents
    over the bounds; returns ``(values, depth)``."""
    sizes: dict[int, tuple[int, int]] = {}
    seen_twice = 0
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            visiting.discard(key)
            children = [sizes[id(c)] for c in _children(node)]
            values = 1 + sum(v for v, _ in children)
            depth = 1 + max((d for _, d in children), default=0)
            if values > bounds.max_values:
                raise DocumentRefused(
                    f"the document expands to more than {bounds.max_values:,} values "
                    "(through its aliases)",
                    node.start_mark.line + 1,
                )
            if depth > bounds.max_depth:
                raise DocumentRefused(
                    f"the document nests more than {bounds.max_depth} levels deep",
                    node.start_mark.line + 1,
                )
            sizes[key] = (values, depth)
            continue
        if key in sizes:
            seen_twice += 1
            if seen_twice > bounds.max_aliases:
                raise DocumentRefused(
                    f"the document uses more than {bounds.max_aliases} aliases",
                    node.start_mark.line + 1,
                )
            continue
        if key in visiting:  # a recursive alias: the node contains itself
            raise DocumentRefused(
                "an alias refers to the node that contains it", node.start_mark.line + 1
            )
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    return sizes[id(root)]
