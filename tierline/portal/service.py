"""What the portal shows a customer user, as plain customer-safe data.

Every function takes the account code(s) the caller already checked against the user's reach
(:mod:`tierline.portal.accounts`) and returns dictionaries with only what the customer may
see: segments (segmentation's service), entitlements (service levels' customer-facing
``entitlements_in_force``, worded by its ``customer_entitlements`` exactly as notices and
documents word them), notices (governance's service) and service measures. Margin, cost,
revenue, internal notes and other customers never enter these dictionaries; :func:`scrub`, with
service levels' one list of private markers, is a last line of defence for every JSON and page
the portal returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.service import customer_notices
from tierline.portal.accounts import PortalAccount
from tierline.segmentation.service import open_customer_segments
from tierline.service_levels.service import (
    PublicEntitlement,
    customer_entitlements,
    entitlements_in_force,
    is_private,
)

SHIP_TO_LIMIT = 500


def scrub(value: Any) -> Any:
    """``value`` with every mapping key that smells internal removed, recursively."""
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items() if not is_private(k)}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


async def _open_segments(
    session: AsyncSession, codes: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Open customer-scheme assignments of ``codes`` (segment codes only, no entitlements)."""
    return [
        {
            "account": row.customer_code,
            "scheme": row.scheme_code,
            "scheme_name": row.scheme_name,
            "segment": row.segment,
            "segment_name": row.segment,
            "segment_colour": None,
            "assigned_from": _iso(row.valid_from),
            "entitlements": None,
        }
        for row in await open_customer_segments(session, codes, limit)
    ]


async def account_entitlements(
    session: AsyncSession, account_code: str, day: date
) -> list[dict[str, Any]]:
    """The account's current segment per customer scheme with the entitlements in force."""
    found = await entitlements_in_force(session, account_code, day)
    return [
        {
            "account": account_code,
            "scheme": item.scheme_code,
            "scheme_name": item.scheme_name,
            "segment": item.segment_code,
            "segment_name": item.segment_name,
            "segment_colour": item.segment_colour,
            "assigned_from": _iso(item.valid_from),
            "entitlements": entitlements_view(item.version),
        }
        for item in found.schemes
    ]


def entitlements_view(version: PublicEntitlement | None) -> dict[str, Any] | None:
    """What a segment promises, as the portal shows it everywhere: the period it is in force
    and the customer-facing entitlements, worded by service levels (label, value, unit,
    text)."""
    if version is None:
        return None
    return {
        "effective_from": _iso(version.effective_from),
        "effective_to": _iso(version.effective_to) if version.effective_to else None,
        "items": [line.as_dict() for line in customer_entitlements(version.values())],
    }


def _worded(values: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    return None if values is None else [line.as_dict() for line in customer_entitlements(values)]


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
    rows = await customer_notices(session, account_code, limit, before_id)
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
                "old_entitlements": _worded(n.old_entitlements),
                "new_entitlements": _worded(n.new_entitlements),
                "created_at": n.created_at.isoformat() if n.created_at else None,
            }
            for n in rows
        ]
    )
    return result


TARGET_KEYS = {
    "fill_rate": "fill_rate",
    "otif": "otif",
    "perfect_order": "perfect_order",
    "lead_time_days": "quoted_lead_time_days",
}


def targets_of(segments: list[dict[str, Any]]) -> dict[str, float | None]:
    """Targets for the chart from the first scheme whose entitlements are in force: ratios as
    fractions (entitlements state them in %), lead time in days."""
    for row in segments:
        ent = row.get("entitlements")
        if not ent:
            continue
        values = {item["key"]: item for item in ent.get("items", [])}
        out: dict[str, float | None] = {}
        for measure, key in TARGET_KEYS.items():
            item = values.get(key) or {}
            value = item.get("value")
            if not isinstance(value, int | float):
                out[measure] = None
            else:
                out[measure] = float(value) / (100.0 if item.get("unit") == "%" else 1.0)
        return out
    return dict.fromkeys(TARGET_KEYS)
