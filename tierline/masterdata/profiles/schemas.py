"""API shapes of import profiles: how a source file maps onto an entity."""

from __future__ import annotations

from typing import Any

import msgspec


class ProfileIn(msgspec.Struct):
    """A profile document: the entity, the source system, ``columns`` (entity field -> file
    column), ``values`` (field -> source value -> Tierline value), ``aliases`` (field -> more
    column names) and file ``options`` (delimiter, encoding, decimal mark, date format...)."""

    entity: str
    source_system: str = "erp"
    columns: dict[str, str] = msgspec.field(default_factory=dict)
    values: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    aliases: dict[str, list[str]] = msgspec.field(default_factory=dict)
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class ProfileOut(msgspec.Struct):
    """An import profile (``preset``: shipped with Tierline, not saved by the tenant)."""

    name: str
    entity: str
    source_system: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    options: dict[str, Any]
    aliases: dict[str, list[str]]
    preset: bool


class ProfileListOut(msgspec.Struct):
    """A page of profiles by name (presets and the tenant's own)."""

    items: list[ProfileOut]
    next_cursor: str | None
