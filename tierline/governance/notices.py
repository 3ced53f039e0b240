"""Customer notices: what a B2B customer is told when its segment or entitlements change.

A notice is one row in ``customer_notices`` (what the portal lists, newest first) with a text
rendered from one of the templates below (kept here, in one place, so wording reviews touch one
file), the effective date, the old and new segment, and the old and new customer-facing
entitlements (service levels' ``segment_entitlements``; filtered again here by ``customer_safe``
and ``customer_facing`` as a second line of defence). What changes is worded by service levels'
``customer_entitlements``, as on every portal page and document. Notices are written in the
caller's transaction with ``ON CONFLICT (dedupe_key) DO NOTHING``, so a retried job or a
repeated decision cannot tell a customer twice. A classification run reaches
:func:`notices_for_applied_moves` through segmentation's ``MOVES_APPLIED`` hook (``hooks.py``);
a decided pending move reaches it from ``moves.decide_moves``.

Account managers are told through in-app notifications and e-mail by the code that changes the
segment (segmentation's run notices, ``overrides.py``, ``moves.py``); this module only writes
what the customer sees.

Notices are written for **customer** schemes only: a customer-product or product segment is an
internal planning class, not a service promise made to the account.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl
from jinja2 import Environment, StrictUndefined
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.governance.models import NOTICE_KINDS, CustomerNotice
from tierline.platform.notifications.service import notify_many
from tierline.segmentation.service import Scheme
from tierline.service_levels.service import (
    CUSTOMER_ENTITLEMENTS,
    customer_entitlements,
    customer_facing,
    customer_safe,
    segment_entitlements,
)

MAX_PAGE = 200
INSERT_BATCH = 2000  # notices per INSERT (asyncpg allows 32767 bind parameters)

# Plain text (notices, e-mail bodies): pages escape it when they show it.
_env = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701

TEMPLATES: Mapping[str, tuple[str, str]] = {
    "segment_change": (
        "Your service segment changes to {{ new }}",
        "From {{ effective }}, your account {{ customer }} is served in segment {{ new }}"
        "{% if old %} (until now: {{ old }}){% endif %}."
        "{% if changes %}\n\nWhat changes for you:\n{% for line in changes %}- {{ line }}\n"
        "{% endfor %}{% endif %}",
    ),
    "entitlement_change": (
        "Your service entitlements change",
        "From {{ effective }}, the service entitlements of your account {{ customer }} "
        "(segment {{ new }}) change."
        "{% if changes %}\n\nWhat changes for you:\n{% for line in changes %}- {{ line }}\n"
        "{% endfor %}{% endif %}",
    ),
    "override": (
        "Your service segment changes to {{ new }}",
        "From {{ effective }}, your account {{ customer }} is served in segment {{ new }}"
        "{% if old %} (until now: {{ old }}){% endif %}"
        "{% if until %}, until {{ until }}{% endif %}."
        "{% if changes %}\n\nWhat changes for you:\n{% for line in changes %}- {{ line }}\n"
        "{% endfor %}{% endif %}",
    ),
    "override_expired": (
        "Your service segment returns to {{ new }}",
        "From {{ effective }}, your account {{ customer }} is served in segment {{ new }} "
        "again{% if old %} (the temporary segment {{ old }} has ended){% endif %}."
        "{% if changes %}\n\nWhat changes for you:\n{% for line in changes %}- {{ line }}\n"
        "{% endfor %}{% endif %}",
    ),
}


def entitlement_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    """One line per customer-facing entitlement that differs, worded as everywhere else the
    customer reads it (``Fill rate: 95% → 85%``); every entitlement when there were none
    before (a first assignment)."""
    before = {line.key: line.text for line in customer_entitlements(old)}
    after = {line.key: line.text for line in customer_entitlements(new)}
    lines = []
    for key, label, _ in CUSTOMER_ENTITLEMENTS:
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        if not before and now is not None:
            lines.append(f"{label}: {now}")
        else:
            lines.append(f"{label}: {was or '—'} → {now or '—'}")
    return lines


CHANGES_HEADING = "\n\nWhat changes for you:\n"


def reworded_body(body: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """``body`` with its list of changes worded again from the stored entitlements: notices
    written before the customer-facing list existed named internal settings and field names
    there (``allocation min share pct: 0.0 -> 20.0``); what the customer reads today does not."""
    head, found, _ = body.partition(CHANGES_HEADING)
    if not found:
        return body
    changes = entitlement_changes(old, new)
    return head + (CHANGES_HEADING + "".join(f"- {line}\n" for line in changes) if changes else "")


def render_notice(kind: str, **values: Any) -> tuple[str, str]:
    """(title, body) of a notice of ``kind``; ValueError for an unknown kind."""
    if kind not in TEMPLATES:
        raise ValueError(f"notice kind {kind!r} is not one of {', '.join(NOTICE_KINDS)}")
    title, body = TEMPLATES[kind]
    context = {"old": None, "new": None, "until": None, "changes": [], **values}
    return _env.from_string(title).render(context)[:300], _env.from_string(body).render(context)


def notice_values(
    *,
    customer_code: str,
    kind: str,
    effective_date: date,
    old_segment: str | None,
    new_segment: str | None,
    old_entitlements: Mapping[str, Any] | None,
    new_entitlements: Mapping[str, Any] | None,
    dedupe_key: str,
    scheme_code: str | None = None,
    segment_names: Mapping[str, str] | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """The row of one notice, its text rendered (see :func:`create_customer_notice`)."""
    names = segment_names or {}
    old_safe = customer_facing(customer_safe(old_entitlements))
    new_safe = customer_facing(customer_safe(new_entitlements))

    def label(code: str | None) -> str | None:
        return None if code is None else f"{names.get(code, code)} ({code})"

    title, body = render_notice(
        kind,
        customer=customer_code,
        effective=effective_date.isoformat(),
        old=label(old_segment),
        new=label(new_segment),
        until=until.isoformat() if until else None,
        changes=entitlement_changes(old_safe, new_safe),
    )
    return {
        "customer_code": customer_code,
        "kind": kind,
        "scheme_code": scheme_code,
        "title": title,
        "body": body,
        "effective_date": effective_date,
        "old_segment": old_segment,
        "new_segment": new_segment,
        "old_entitlements": old_safe,
        "new_entitlements": new_safe,
        "dedupe_key": dedupe_key[:300],
    }


# The customer's own portal users and those of every account above it in the hierarchy (they
# see its ship-tos); UNION stops on a cycle.
_PORTAL_RECIPIENTS = text(
    """
    WITH RECURSIVE up(code, target) AS (
        SELECT code, code FROM customers WHERE code = ANY(:codes)
        UNION
        SELECT c.parent_code, up.target FROM customers c JOIN up ON c.code = up.code
        WHERE c.parent_code IS NOT NULL
    )
    SELECT lower(u.email) AS email, up.target AS customer_code
    FROM users u JOIN up ON u.customer_code = up.code
    WHERE u.kind = 'customer' AND u.status = 'active'
    """
)


async def _email_portal_users(session: AsyncSession, notices: list[Any]) -> int:
    """Mail each new notice to the customer's portal users (through the outbox, so only when
    e-mail is configured, and in the notice's transaction)."""
    codes = sorted({n.customer_code for n in notices})
    rows = (await session.execute(_PORTAL_RECIPIENTS, {"codes": codes})).all()
    recipients: dict[str, set[str]] = {}
    for email, code in rows:
        recipients.setdefault(code, set()).add(email)
    items = [
        (email, notice.title, notice.body, None, f"customer-notice:{notice.id}")
        for notice in notices
        for email in sorted(recipients.get(notice.customer_code, ()))
    ]
    return await notify_many(session, items, kind="customer_notice") if items else 0


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    statement = (
        pg_insert(CustomerNotice)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(
            CustomerNotice.id,
            CustomerNotice.customer_code,
            CustomerNotice.title,
            CustomerNotice.body,
        )
    )
    created = list((await session.execute(statement)).all())
    if created:
        await _email_portal_users(session, created)
    return [row.id for row in created]


async def create_customer_notice(
    session: AsyncSession,
    *,
    customer_code: str,
    kind: str,
    effective_date: date,
    old_segment: str | None,
    new_segment: str | None,
    old_entitlements: Mapping[str, Any] | None,
    new_entitlements: Mapping[str, Any] | None,
    dedupe_key: str,
    scheme_code: str | None = None,
    segment_names: Mapping[str, str] | None = None,
    until: date | None = None,
) -> int | None:
    """Write one notice; its id, or None when ``dedupe_key`` was written before."""
    row = notice_values(
        customer_code=customer_code,
        kind=kind,
        effective_date=effective_date,
        old_segment=old_segment,
        new_segment=new_segment,
        old_entitlements=old_entitlements,
        new_entitlements=new_entitlements,
        dedupe_key=dedupe_key,
        scheme_code=scheme_code,
        segment_names=segment_names,
        until=until,
    )
    ids = await _insert(session, [row])
    return ids[0] if ids else None


async def notices_for(
    session: AsyncSession, customer_code: str, limit: int = 50, before_id: int | None = None
) -> list[CustomerNotice]:
    """A customer's notices, newest first; page on with ``before_id`` (the last id seen)."""
    query = select(CustomerNotice).where(CustomerNotice.customer_code == customer_code)
    if before_id is not None:
        query = query.where(CustomerNotice.id < before_id)
    limit = max(1, min(MAX_PAGE, limit))
    rows = await session.execute(query.order_by(CustomerNotice.id.desc()).limit(limit))
    return list(rows.scalars())


async def notices_for_applied_moves(
    session: AsyncSession,
    scheme: Scheme,
    applied: pl.DataFrame,
    effective: date,
    *,
    run_id: uuid.UUID | None = None,
    batch: str | None = None,
) -> int:
    """A ``segment_change`` notice per customer whose segment a run (or an approved pending
    move) changed; ``applied`` has ``customer_code, previous_segment, segment`` and, optionally,
    ``batch`` per row. Returns how many notices were new. Call it in the transaction that
    applied the moves; the row's ``batch`` (else ``batch``, else ``run_id``) makes the dedupe
    key, so a retried run or a decided move writes each notice once."""
    if scheme.entity != "customer" or applied.is_empty():
        return 0
    names = {s.code: s.name for s in scheme.segments}
    segments = set(applied["segment"].drop_nulls().to_list()) | set(
        applied["previous_segment"].drop_nulls().to_list()
    )
    entitled = {
        code: await segment_entitlements(session, scheme.code, code, effective)
        for code in sorted(segments)
    }
    batch = batch or (str(run_id) if run_id else effective.isoformat())
    columns = ["customer_code", "previous_segment", "segment"]
    if "batch" in applied.columns:
        columns.append("batch")
    rows = [
        notice_values(
            customer_code=row["customer_code"],
            kind="segment_change",
            effective_date=effective,
            old_segment=row["previous_segment"],
            new_segment=row["segment"],
            old_entitlements=entitled.get(row["previous_segment"] or ""),
            new_entitlements=entitled.get(row["segment"]),
            dedupe_key=f"segment_change:{scheme.code}:{row['customer_code']}:"
            f"{row.get('batch') or batch}:{row['segment']}",
            scheme_code=scheme.code,
            segment_names=names,
        )
        for row in applied.select(columns).drop_nulls("customer_code").iter_rows(named=True)
    ]
    created = 0
    for start in range(0, len(rows), INSERT_BATCH):
        created += len(await _insert(session, rows[start : start + INSERT_BATCH]))
    return created
