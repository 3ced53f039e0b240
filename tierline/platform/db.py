"""Declarative bases for the two table sets: the control plane and the per-tenant schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Tenant tables are declared against this placeholder; each unit of work maps it onto the real
# schema (``schema_translate_map``), so no table ever names a tenant's schema in code.
TENANT_SCHEMA = "tenant"

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,39}$")

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class InvalidSlug(ValueError):
    """A tenant slug that is not a safe schema name."""


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise InvalidSlug(
            f"invalid tenant slug {slug!r}: use 3-40 characters, lowercase letters, digits and "
            "'_', starting with a letter"
        )
    return slug


def schema_for(slug: str) -> str:
    """The PostgreSQL schema that holds a tenant's data."""
    return f"t_{validate_slug(slug)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ControlBase(DeclarativeBase):
    """Tables of the control-plane database (no personal or transaction data)."""

    metadata = MetaData(naming_convention=_NAMING)


class TenantBase(DeclarativeBase):
    """Tables that exist once per tenant schema."""

    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=_NAMING)
