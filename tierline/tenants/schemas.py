"""API shapes for the tenant lifecycle."""

from __future__ import annotations

from datetime import datetime

import msgspec


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: str = msgspec.field()
    name: str
    region: str


class TenantOut(msgspec.Struct):
    slug: str
    name: str
    region: str
    schema: str
    status: str
    revision: str | None
    created_at: datetime
