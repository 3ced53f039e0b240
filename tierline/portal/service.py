"""What the portal shows a customer user, as plain customer-safe data.

Every function takes the account code(s) the caller already checked against the user's reach
(:mod:`tierline.portal.accounts`) and returns dictionaries with only what the customer may
see: segments, entitlements (through segmentation's ``entitlement_public_dict`` and its
``customer_safe`` filter), notices and service measures. Margin, cost, revenue, internal notes
and other customers never enter these dictionaries; :func:`scrub` is a last line of defence
for every JSON and page the portal returns.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.portal.accounts import PortalAccount
from tierline.segmentation.models import SchemeVersion, SegmentAssignment, SegmentationScheme
from tierline.governance.notices import customer_safe, notices_for

PRIVATE_MARKERS = ("margin", "cost", "revenue", "internal", "note", "price")
SHIP_TO_LIMIT = 500


def scrub(value: Any) -> Any:
    """``value`` with every mapping key that smells internal removed, recursively."""
    if isinstance(value, Mapping):
        return {
            str(k): scrub(v)
            for k, v in value.items()
            if not any(m in str(k).lower() for m in PRIVATE_MARKERS)
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _attr(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _entitlements_module() -> Any | None:
    try:
        from tierline.segmentation import entitlements
    except ImportError:
        return None
    return entitlements


def _public_entitlements(module: Any, version: Any) -> dict[str, Any] | None:
    if version is None:
        return None
    public = module.entitlement_public_dict(version)
    safe = customer_safe(public) if isinstance(public, Mapping) else None
    return {k: _iso(v) for k, v in safe.items()} if safe else None


async def _open_segments(
    session: AsyncSession, codes: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Open customer-scheme assignments of ``codes`` (segment codes only, no entitlements)."""
    if not codes:
        return []
    rows = await session.execute(
        select(
            SegmentAssignment.customer_code,
            SegmentAssignment.scheme_code,
            SegmentationScheme.name,
            SegmentAssignment.segment,
            SegmentAssignment.valid_from,
        )
        .join(SegmentationScheme, SegmentationScheme.code == SegmentAssignment.scheme_code)
        .where(
            SegmentAssignment.customer_code.in_(list(codes)),
            SegmentAssignment.valid_to.is_(None),
            SegmentationScheme.entity == "customer",
        )
        .order_by(SegmentAssignment.customer_code, SegmentAssignment.scheme_code)
        .limit(limit)
    )
    return [
        {
            "account": code,
            "scheme": scheme,
            "scheme_name": name,
            "segment": segment,
            "segment_name": segment,
            "segment_colour": None,
            "assigned_from": _iso(valid_from),
            "entitlements": None,
        }
        for code, scheme, name, segment, valid_from in rows.all()
    ]


def _in_force_statement() -> Select[Any]:
    """Segmentation's ``entitlements_for_customer`` (open assignment per customer scheme, its
    published version's segment, the entitlement version in force on the day) folded into one
    statement: one round trip per page instead of one plus one per scheme. Built once; the
    account and day are bound per call."""
    from tierline.service_levels.models import EntitlementVersion

    day = bindparam("day", type_=Date())
    ends = EntitlementVersion.effective_to
    return (
        select(
            SegmentAssignment.scheme_code,
            SegmentAssignment.segment,
            SegmentAssignment.valid_from,
            SegmentationScheme.name,
            SchemeVersion.document,
            EntitlementVersion,
        )
        .join(SegmentationScheme, SegmentationScheme.code == SegmentAssignment.scheme_code)
        .join(
            SchemeVersion,
            (SchemeVersion.scheme_code == SegmentationScheme.code)
            & (SchemeVersion.version == SegmentationScheme.published_version),
        )
        .outerjoin(
            EntitlementVersion,
            and_(
                EntitlementVersion.scheme_code == SegmentAssignment.scheme_code,
                EntitlementVersion.segment_code == SegmentAssignment.segment,
                EntitlementVersion.effective_from <= day,
                or_(ends.is_(None), ends > day),
            ),
        )
        .where(
            SegmentAssignment.customer_code == bindparam("account"),
            SegmentAssignment.valid_to.is_(None),
            SegmentationScheme.entity == "customer",
        )
        .order_by(SegmentAssignment.scheme_code, EntitlementVersion.version.desc())
    )


@functools.cache
def _in_force() -> Select[Any]:
    return _in_force_statement()


async def account_entitlements(
    session: AsyncSession, account_code: str, day: date
) -> list[dict[str, Any]]:
    """The account's current segment per customer scheme with the entitlements in force."""
    module = _entitlements_module()
    if module is None:
        return await _open_segments(session, [account_code], 100)
    rows = await session.execute(_in_force(), {"account": account_code, "day": day})
    found: list[Any] = []
    for scheme_code, segment_code, valid_from, scheme_name, document, version in rows.all():
        if found and found[-1].scheme_code == scheme_code:
            continue  # overlapping versions in force (never written so): the newest one
        segment = {s.get("code"): s for s in document.get("segments", [])}.get(segment_code, {})
        found.append(
            module.CustomerEntitlement(
                scheme_code=scheme_code,
                scheme_name=scheme_name,
                segment_code=segment_code,
                segment_name=str(segment.get("name") or segment_code),
                segment_colour=segment.get("colour"),
                segment_rank=segment.get("rank"),
                valid_from=valid_from,
                version=version,
            )
        )
    out = []
    for item in found:
        version = _attr(item, "version", "entitlement", "entitlement_version")
        out.append(
            {
                "account": account_code,
                "scheme": _attr(item, "scheme_code", "scheme"),
                "scheme_name": _attr(item, "scheme_name"),
                "segment": _attr(item, "segment_code", "segment"),
                "segment_name": _attr(item, "segment_name"),
                "segment_colour": _attr(item, "segment_colour", "colour", "color"),
                "assigned_from": _iso(_attr(item, "valid_from", "assigned_from")),
                "entitlements": _public_entitlements(module, version),
            }
        )
    return out


async def overview(
    session: AsyncSession, accounts: list[PortalAccount], day: date
) -> dict[str, Any]:
    """The home page and ``GET /api/v1/portal/entitlements``: the user's own account with its
    entitlements, and the segments of the accounts below it."""
    own = accounts[0]
    below = accounts[1 : SHIP_TO_LIMIT + 1]
    segments = await _open_segments(session, [a.code for a in below], SHIP_TO_LIMIT * 4)
    by_code: dict[str, list[dict[str, Any]]] = {}
    for row in segments:
        by_code.setdefault(row["account"], []).append(
            {k: row[k] for k in ("scheme", "scheme_name", "segment", "assigned_from")}
        )
    result: dict[str, Any] = scrub(
        {
            "account": _account_dict(own),
            "as_of": day.isoformat(),
            "segments": await account_entitlements(session, own.code, day),
            "accounts_below": [
                {**_account_dict(a), "segments": by_code.get(a.code, [])} for a in below
            ],
            "accounts_below_total": len(accounts) - 1,
        }
    )
    return result


def _account_dict(account: PortalAccount) -> dict[str, Any]:
    return {
        "code": account.code,
        "name": account.name,
        "account_type": account.account_type,
        "parent_code": account.parent_code if account.depth else None,
    }


async def account_notices(
    session: AsyncSession, account_code: str, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    rows = await notices_for(session, account_code, limit, before_id)
    result: list[dict[str, Any]] = scrub(
        [
            {
                "id": n.id,
                "account": n.customer_code,
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "effective_date": _iso(n.effective_date),
                "old_segment": n.old_segment,
                "new_segment": n.new_segment,
                "old_entitlements": customer_safe(n.old_entitlements),
                "new_entitlements": customer_safe(n.new_entitlements),
                "created_at": n.created_at.isoformat() if n.created_at else None,
            }
            for n in rows
        ]
    )
    return result


TARGET_KEYS = {
    "fill_rate": ("fill_rate_target", "fill_rate_pct", "fill_rate"),
    "otif": ("otif_target", "otif_pct", "otif"),
    "perfect_order": ("perfect_order_target", "perfect_order_pct", "perfect_order"),
    "lead_time_days": ("quoted_lead_time_days", "lead_time_days", "quoted_lead_time"),
}


def targets_of(segments: list[dict[str, Any]]) -> dict[str, float | None]:
    """Targets for the chart from the first scheme whose entitlements are in force: ratios as
    fractions (entitlements state them in %), lead time in days."""
    for row in segments:
        ent = row.get("entitlements")
        if not ent:
            continue
        out: dict[str, float | None] = {}
        for measure, keys in TARGET_KEYS.items():
            key = next((k for k in keys if isinstance(ent.get(k), int | float)), None)
            if key is None:
                out[measure] = None
                continue
            value = float(ent[key])
            out[measure] = value / 100.0 if key.endswith("_pct") else value
        return out
    return dict.fromkeys(TARGET_KEYS)
