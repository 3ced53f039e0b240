"""Mapping profiles as a tenant sees them: its saved profiles over the shipped presets, and
saving one (audited) from the page's form or the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.profiles.definition import Profile, ProfileError, build_profile
from tierline.masterdata.profiles.models import MappingProfile
from tierline.masterdata.profiles.presets import default_profile_name, presets
from tierline.platform.audit import record
from tierline.platform.identity.users import Actor


def _from_row(row: MappingProfile) -> Profile:
    raw = {
        "name": row.name,
        "entity": row.entity,
        "source_system": row.source_system,
        "columns": row.columns,
        "values": (row.options or {}).get("values", {}),
        "aliases": (row.options or {}).get("aliases", {}),
        "options": {k: v for k, v in (row.options or {}).items() if k not in ("values", "aliases")},
    }
    return build_profile(raw)


async def get_profile(session: AsyncSession, name: str | None, entity_name: str) -> Profile:
    """The named profile (saved first, then presets), or the entity's generic preset."""
    name = name or default_profile_name(entity_name)
    row = (
        await session.execute(select(MappingProfile).where(MappingProfile.name == name))
    ).scalar_one_or_none()
    profile = _from_row(row) if row is not None else presets().get(name)
    if profile is None:
        raise ProfileError(f"unknown mapping profile '{name}'")
    if profile.entity != entity_name:
        raise ProfileError(f"profile '{name}' maps {profile.entity}, not {entity_name}")
    return profile


async def list_profiles(session: AsyncSession) -> list[Profile]:
    saved = {
        r.name: _from_row(r) for r in (await session.execute(select(MappingProfile))).scalars()
    }
    merged = {**presets(), **saved}
    return [merged[k] for k in sorted(merged)]


async def save_profile(session: AsyncSession, raw: dict[str, Any], actor: Actor) -> Profile:
    profile = build_profile(raw)
    row = (
        await session.execute(select(MappingProfile).where(MappingProfile.name == profile.name))
    ).scalar_one_or_none()
    before = _from_row(row).as_dict() if row is not None else None
    document = profile.as_dict()
    # Value translations and aliases travel in the options column (no column of their own).
    options = {**document["options"], "values": document["values"], "aliases": document["aliases"]}
    if row is None:
        row = MappingProfile(
            name=profile.name,
            entity=profile.entity,
            created_by=actor.name,
            source_system=profile.source_system,
            columns=profile.columns,
            options=options,
        )
        session.add(row)
    else:
        row.entity, row.source_system, row.columns, row.options = (
            profile.entity,
            profile.source_system,
            profile.columns,
            options,
        )
    await session.flush()
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action="profiles.save",
        object_type="mapping_profile",
        object_id=profile.name,
        before=before,
        after=profile.as_dict(),
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return profile


def parse_lines(text: str, separator: str) -> dict[str, str]:
    """``attribute = Source column`` lines into a mapping (blank lines and # comments skipped)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        left, sep, right = line.partition(separator)
        if not sep:
            raise ProfileError(f"line {number}: write it as 'left {separator} right'")
        found[left.strip()] = right.strip()
    return found


def parse_values(text: str) -> dict[str, dict[str, str]]:
    """``attribute: source value => Tierline value`` lines."""
    found: dict[str, dict[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        attribute, sep, rest = line.partition(":")
        source, arrow, target = rest.partition("=>")
        if not sep or not arrow:
            raise ProfileError(f"value line {number}: write it as 'attribute: source => value'")
        found.setdefault(attribute.strip(), {})[source.strip()] = target.strip()
    return found


def form_to_raw(form: Any) -> dict[str, Any]:
    """The profile page's form as a profile document; ``ProfileError`` names a line that does
    not parse. A column line may name alternatives: ``sku = MATNR | Material``."""
    lines = parse_lines(str(form.get("columns", "")), "=")
    named = {a: [n.strip() for n in source.split("|")] for a, source in lines.items()}
    return {
        "name": str(form.get("name", "")),
        "entity": str(form.get("entity", "")),
        "source_system": str(form.get("source_system", "erp")),
        "columns": {a: names[0] for a, names in named.items()},
        "aliases": {a: names[1:] for a, names in named.items() if len(names) > 1},
        "values": parse_values(str(form.get("values", ""))),
        "options": {
            "delimiter": "\t"
            if form.get("delimiter") == "tab"
            else str(form.get("delimiter") or ","),
            "encoding": str(form.get("encoding") or "utf-8"),
            "decimal": str(form.get("decimal") or "."),
            "date_format": str(form.get("date_format") or "") or None,
            "sheet": str(form.get("sheet") or "") or None,
            "detect": bool(form.get("detect")),
        },
    }
