"""Schemes in the tenant schema: create, keep a draft, publish immutable versions.

A draft may be invalid (a planner saves work in progress); publishing parses it again and
refuses anything the validator rejects, so only valid documents ever reach a run. Publishing a
document whose content hash equals the version in force is refused: a new version must change
something. Parsing and validating a document is CPU work that grows with its size, so it runs
in a worker thread (``parse_off_loop``), never on the event loop that serves every tenant.
The readers at the end answer what other pages and domains ask of the versions in
force (segment names, ranks and colours) as plain data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.segmentation.models import SchemeVersion, SegmentationScheme
from tierline.segmentation.schemes.document import (
    ParsedScheme,
    Scheme,
    SchemeInvalid,
    SchemeIssue,
    Segment,
    content_hash,
    next_run_after,
    parse_scheme,
    scheme_from_dict,
    scheme_to_dict,
)


class SchemeRefused(DomainError):
    status_code = 409
    title = "Scheme change refused"


class SchemeNotFound(DomainError):
    status_code = 404
    title = "Scheme not found"


@dataclass(frozen=True)
class PublishedScheme:
    """The version in force: its row and the parsed document."""

    version: SchemeVersion
    scheme: Scheme

    @property
    def code(self) -> str:
        return self.version.scheme_code


async def parse_off_loop(text: str) -> ParsedScheme:
    """``parse_scheme`` in a worker thread: the event loop keeps serving while a large (or
    hostile) document is parsed, checked and validated."""
    return await asyncio.to_thread(parse_scheme, text)


async def get_scheme(session: AsyncSession, code: str) -> SegmentationScheme:
    row = await session.get(SegmentationScheme, code)
    if row is None:
        raise SchemeNotFound(f"there is no scheme '{code}'")
    return row


async def list_schemes(session: AsyncSession) -> list[SegmentationScheme]:
    return list(
        (await session.execute(select(SegmentationScheme).order_by(SegmentationScheme.code)))
        .scalars()
        .all()
    )


async def create_scheme(session: AsyncSession, text: str, actor: ActingParty) -> ParsedScheme:
    """A new scheme from a valid document; its text becomes the first draft."""
    parsed = await parse_off_loop(text)
    scheme = parsed.scheme
    if await session.get(SegmentationScheme, scheme.code) is not None:
        raise SchemeRefused(f"a scheme '{scheme.code}' exists already; edit it instead")
    now = datetime.now(UTC)
    session.add(
        SegmentationScheme(
            code=scheme.code,
            entity=scheme.entity,
            name=scheme.name,
            draft_text=text,
            draft_updated_at=now,
            draft_updated_by=actor.name,
            created_by=actor.name,
            created_at=now,
        )
    )
    await session.flush()
    await record_by(
        session, actor, "schemes.create", "scheme", scheme.code, after={"entity": scheme.entity}
    )
    return parsed


def _check_identity(row: SegmentationScheme, scheme: Scheme) -> None:
    if scheme.code != row.code:
        raise SchemeInvalid([SchemeIssue("code", f"the code of this scheme is '{row.code}'")])
    if scheme.entity != row.entity:
        raise SchemeInvalid(
            [
                SchemeIssue(
                    "entity", f"this scheme classifies '{row.entity}'; create a new one instead"
                )
            ]
        )


async def save_draft(
    session: AsyncSession, code: str, text: str, actor: ActingParty
) -> ParsedScheme | SchemeInvalid:
    """Keep ``text`` as the draft whether or not it is valid; return what validation said."""
    row = await get_scheme(session, code)
    row.draft_text = text
    row.draft_updated_at = datetime.now(UTC)
    row.draft_updated_by = actor.name
    try:
        parsed = await parse_off_loop(text)
        _check_identity(row, parsed.scheme)
    except SchemeInvalid as invalid:
        return invalid
    return parsed


async def publish(
    session: AsyncSession, code: str, actor: ActingParty, note: str | None = None
) -> SchemeVersion:
    """Publish the draft as the next immutable version (refused when invalid or unchanged)."""
    row = await get_scheme(session, code)
    if not row.draft_text:
        raise SchemeRefused(f"scheme '{code}' has no draft to publish")
    parsed = await parse_off_loop(row.draft_text)  # SchemeInvalid propagates: nothing written
    _check_identity(row, parsed.scheme)
    digest = content_hash(parsed.scheme)
    current = await _version_row(session, code, row.published_version)
    if current is not None and current.content_hash == digest:
        raise SchemeRefused(
            f"the draft is identical to version {current.version} in force; nothing to publish"
        )
    number = (
        await session.execute(
            select(func.coalesce(func.max(SchemeVersion.version), 0)).where(
                SchemeVersion.scheme_code == code
            )
        )
    ).scalar_one() + 1
    version = SchemeVersion(
        scheme_code=code,
        version=number,
        source_text=row.draft_text,
        document=scheme_to_dict(parsed.scheme),
        content_hash=digest,
        published_at=datetime.now(UTC),
        published_by=actor.name,
        note=note,
    )
    session.add(version)
    row.published_version = number
    row.name = parsed.scheme.name
    row.next_run_at = next_run_after(parsed.scheme, datetime.now(UTC))
    await session.flush()
    await record_by(
        session,
        actor,
        "schemes.publish",
        "scheme",
        code,
        before=None if current is None else {"version": current.version},
        after={"version": number, "content_hash": digest},
        reason=note,
    )
    return version


async def _version_row(
    session: AsyncSession, code: str, version: int | None
) -> SchemeVersion | None:
    if version is None:
        return None
    return await session.get(SchemeVersion, (code, version))


async def published(
    session: AsyncSession, code: str, version: int | None = None
) -> PublishedScheme:
    """The version in force (or ``version``), parsed; refused when nothing is published."""
    row = await get_scheme(session, code)
    number = version if version is not None else row.published_version
    found = await _version_row(session, code, number)
    if found is None:
        if version is None:
            raise SchemeRefused(f"scheme '{code}' has no published version yet; publish it first")
        raise SchemeNotFound(f"scheme '{code}' has no version {version}")
    return PublishedScheme(found, scheme_from_dict(found.document).scheme)


async def versions_of(session: AsyncSession, code: str) -> list[SchemeVersion]:
    return list(
        (
            await session.execute(
                select(SchemeVersion)
                .where(SchemeVersion.scheme_code == code)
                .order_by(SchemeVersion.version.desc())
            )
        )
        .scalars()
        .all()
    )


def scheme_summary(row: SegmentationScheme) -> dict[str, Any]:
    return {
        "code": row.code,
        "entity": row.entity,
        "name": row.name,
        "published_version": row.published_version,
        "draft_updated_at": row.draft_updated_at,
        "draft_updated_by": row.draft_updated_by,
        "last_run_at": row.last_run_at,
        "next_run_at": row.next_run_at,
    }


# ---------------------------------------------------------------------------------------------
# The versions in force, as plain data


@dataclass(frozen=True)
class SchemeInfo:
    """A scheme as other pages list it."""

    code: str
    name: str
    entity: str
    published_version: int | None


@dataclass(frozen=True)
class SegmentInfo:
    code: str
    name: str
    rank: int
    colour: str | None


async def scheme_infos(
    session: AsyncSession, *, entity: str | None = None, published_only: bool = False
) -> list[SchemeInfo]:
    """Schemes by code: of one ``entity`` kind, or only those with a version in force."""
    query = select(
        SegmentationScheme.code,
        SegmentationScheme.name,
        SegmentationScheme.entity,
        SegmentationScheme.published_version,
    )
    if entity is not None:
        query = query.where(SegmentationScheme.entity == entity)
    if published_only:
        query = query.where(SegmentationScheme.published_version.is_not(None))
    rows = await session.execute(query.order_by(SegmentationScheme.code))
    return [SchemeInfo(str(c), str(n), str(e), v) for c, n, e, v in rows.all()]


async def scheme_exists(session: AsyncSession, code: str) -> bool:
    return await session.get(SegmentationScheme, code) is not None


async def scheme_entity(session: AsyncSession, code: str) -> str | None:
    """What the scheme classifies (``customer``, ``product``, ``customer_product``); None for
    an unknown scheme."""
    row = await session.get(SegmentationScheme, code)
    return None if row is None else row.entity


async def segment_catalogue(
    session: AsyncSession, codes: Sequence[str] | None = None
) -> dict[str, list[SegmentInfo]]:
    """Scheme code -> its segments in rank order, from the published version (if any)."""
    query = select(SchemeVersion.scheme_code, SchemeVersion.document).join(
        SegmentationScheme,
        and_(
            SegmentationScheme.code == SchemeVersion.scheme_code,
            SegmentationScheme.published_version == SchemeVersion.version,
        ),
    )
    if codes is not None:
        query = query.where(SchemeVersion.scheme_code.in_(list(codes)))
    found: dict[str, list[SegmentInfo]] = {}
    for code, document in (await session.execute(query)).all():
        segments = [
            SegmentInfo(s["code"], s["name"], int(s["rank"]), s.get("colour"))
            for s in document.get("segments", [])
        ]
        found[code] = sorted(segments, key=lambda s: (s.rank, s.code))
    return found


async def published_segments(session: AsyncSession, scheme_code: str) -> list[Segment] | None:
    """The published scheme's segments in rank order; None if nothing is published."""
    row = await session.execute(
        select(SchemeVersion.document)
        .join(
            SegmentationScheme,
            (SegmentationScheme.code == SchemeVersion.scheme_code)
            & (SegmentationScheme.published_version == SchemeVersion.version),
        )
        .where(SchemeVersion.scheme_code == scheme_code)
    )
    document = row.scalar_one_or_none()
    if document is None:
        return None
    found = msgspec.convert(document.get("segments", []), list[Segment])
    return sorted(found, key=lambda s: (s.rank, s.code))
