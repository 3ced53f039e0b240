"""Type-check raw document data against the Structs and report every mismatch, not the first.

``msgspec.convert`` stops at the first error. Authors fix a scheme faster when they see all
of them, so this walks containers itself (Struct fields, lists, dicts) and hands each leaf to
``msgspec.convert`` for the actual check and message.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from msgspec import UnsetType

from tierline.segmentation.schemes.lines import join_path


def shape_errors(data: Any, target: Any, path: str = "") -> list[tuple[str, str]]:
    """``(path, message)`` for every place where ``data`` does not fit ``target``."""
    origin = get_origin(target)
    if origin is Annotated:
        # Contents first: a constraint on the whole value (length, range) is checked once the
        # contents fit, so an item error is not hidden behind msgspec's first-error message.
        return shape_errors(data, get_args(target)[0], path) or _leaf_errors(data, target, path)
    if origin in (Union, types.UnionType):
        return _union_errors(data, target, path)
    if isinstance(target, type) and issubclass(target, msgspec.Struct):
        return _struct_errors(data, target, path)
    if origin is list:
        if not isinstance(data, list):
            return [(path, f"Expected a list, got {_kind(data)}")]
        (item,) = get_args(target)
        return [e for i, v in enumerate(data) for e in shape_errors(v, item, join_path(path, i))]
    if origin is dict:
        if not isinstance(data, dict):
            return [(path, f"Expected a mapping, got {_kind(data)}")]
        _, value_type = get_args(target)
        errors = [
            (join_path(path, str(k)), "Keys must be text") for k in data if type(k) is not str
        ]
        for key, value in data.items():
            errors += shape_errors(value, value_type, join_path(path, str(key)))
        return errors
    return _leaf_errors(data, target, path)


def _union_errors(data: Any, target: Any, path: str) -> list[tuple[str, str]]:
    options = [t for t in get_args(target) if t is not UnsetType]
    if data is None and type(None) in options:
        return []
    containers = [t for t in options if _is_container(t)]
    if len(containers) == 1 and isinstance(data, dict | list):
        return shape_errors(data, containers[0], path)
    return _leaf_errors(data, target, path)


def _is_container(target: Any) -> bool:
    base = get_args(target)[0] if get_origin(target) is Annotated else target
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return True
    return get_origin(base) in (list, dict)


def _struct_errors(data: Any, target: type[msgspec.Struct], path: str) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        return [(path, f"Expected a mapping, got {_kind(data)}")]
    fields = {f.encode_name: f for f in msgspec.structs.fields(target)}
    errors = []
    for key in data:
        if key not in fields:
            allowed = ", ".join(fields)
            errors.append((join_path(path, str(key)), f"Unknown key {key!r} (allowed: {allowed})"))
    for name, field in fields.items():
        if name in data:
            errors += shape_errors(data[name], field.type, join_path(path, name))
        elif field.required:
            errors.append((join_path(path, name), f"Missing required key {name!r}"))
    return errors


def _leaf_errors(data: Any, target: Any, path: str) -> list[tuple[str, str]]:
    try:
        msgspec.convert(data, target, strict=True)
    except msgspec.ValidationError as exc:
        return [(path, str(exc).split(" - at `$", 1)[0])]
    return []


def _kind(data: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(data), "null" if data is None else "a number"
    )
