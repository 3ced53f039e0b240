"""Policy documents in the tenant schema: create, save a draft, publish an immutable version."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.document import (
    PolicyDocument,
    PolicyInvalid,
    PolicyIssue,
    content_hash,
    document_dict,
    parse_document,
)
from tierline.inventory.models import InventoryPolicy, InventoryPolicyVersion
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError

CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


class PolicyNotFound(DomainError, LookupError):
    status_code = 404
    title = "Inventory policy not found"


class PolicyRefused(DomainError, ValueError):
    status_code = 409
    title = "Inventory policy change refused"


@dataclass(frozen=True)
class PublishedPolicy:
    code: str
    name: str
    version: int
    content_hash: str
    document: PolicyDocument
    published_at: datetime
    published_by: str | None


async def get_policy(session: AsyncSession, code: str) -> InventoryPolicy:
    row = await session.get(InventoryPolicy, code)
    if row is None:
        raise PolicyNotFound(f"no inventory policy '{code}'")
    return row


async def list_policies(session: AsyncSession) -> list[InventoryPolicy]:
    rows = await session.execute(select(InventoryPolicy).order_by(InventoryPolicy.code))
    return list(rows.scalars())


async def create_policy(
    session: AsyncSession, code: str, name: str, draft: Any, actor: ActingParty
) -> InventoryPolicy:
    """A new policy with its first draft (validated: a draft must parse)."""
    if not CODE.match(code):
        raise PolicyInvalid([PolicyIssue("code", "letters, digits, _ or -, at most 40")])
    if await session.get(InventoryPolicy, code) is not None:
        raise PolicyRefused(f"inventory policy '{code}' exists already")
    doc = parse_document(draft)
    row = InventoryPolicy(
        code=code,
        name=name.strip() or code,
        draft=document_dict(doc),
        draft_updated_at=datetime.now(UTC),
        draft_updated_by=actor.name,
        created_by=actor.name,
    )
    session.add(row)
    await session.flush()
    await record_by(
        session, actor, "inventory.policy_created", "inventory_policy", code, after=row.draft
    )
    return row


async def save_draft(
    session: AsyncSession, code: str, draft: Any, actor: ActingParty
) -> PolicyDocument:
    row = await get_policy(session, code)
    doc = parse_document(draft)
    before = row.draft
    row.draft = document_dict(doc)
    row.draft_updated_at = datetime.now(UTC)
    row.draft_updated_by = actor.name
    await record_by(
        session,
        actor,
        "inventory.draft_saved",
        "inventory_policy",
        code,
        before=before,
        after=row.draft,
    )
    return doc


async def publish(
    session: AsyncSession,
    code: str,
    actor: ActingParty,
    note: str | None = None,
    *,
    acknowledge_shortfall: bool = False,
    shortfall_reason: str | None = None,
) -> InventoryPolicyVersion:
    """Publish the draft as the next immutable version (the same content twice is refused).
    When the latest simulation of this policy found segments below their entitlement,
    publishing needs ``acknowledge_shortfall`` and a ``shortfall_reason`` (both recorded in
    the audit log)."""
    from tierline.inventory.simulations.service import publish_gate

    row = await get_policy(session, code)
    if row.draft is None:
        raise PolicyRefused("there is no draft to publish")
    await publish_gate(session, code, actor, acknowledge_shortfall, shortfall_reason)
    doc = parse_document(row.draft)
    digest = content_hash(doc)
    latest = await _version(session, code, row.published_version)
    if latest is not None and latest.content_hash == digest:
        raise PolicyRefused(f"version {latest.version} already has this content")
    version = InventoryPolicyVersion(
        policy_code=code,
        version=(row.published_version or 0) + 1,
        document=document_dict(doc),
        content_hash=digest,
        published_by=actor.name,
        note=note,
    )
    session.add(version)
    row.published_version = version.version
    await session.flush()
    await record_by(
        session,
        actor,
        "inventory.policy_published",
        "inventory_policy",
        code,
        after={"version": version.version, "content_hash": digest},
        reason=note,
    )
    return version


async def _version(
    session: AsyncSession, code: str, version: int | None
) -> InventoryPolicyVersion | None:
    if version is None:
        return None
    return await session.get(InventoryPolicyVersion, (code, version))


async def versions(session: AsyncSession, code: str) -> list[InventoryPolicyVersion]:
    rows = await session.execute(
        select(InventoryPolicyVersion)
        .where(InventoryPolicyVersion.policy_code == code)
        .order_by(InventoryPolicyVersion.version.desc())
    )
    return list(rows.scalars())


async def published(
    session: AsyncSession, code: str, version: int | None = None
) -> PublishedPolicy:
    """The version in force (or ``version``), parsed; refused when nothing is published."""
    row = await get_policy(session, code)
    wanted = version or row.published_version
    found = await _version(session, code, wanted)
    if found is None:
        raise PolicyRefused(f"inventory policy '{code}' has no published version")
    return PublishedPolicy(
        code=code,
        name=row.name,
        version=found.version,
        content_hash=found.content_hash,
        document=parse_document(found.document),
        published_at=found.published_at,
        published_by=found.published_by,
    )
