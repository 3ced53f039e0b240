"""The data steward's decisions on an ambiguous match: merge the source record into its candidate
golden row, or keep it apart (a golden row of its own), each in the caller's transaction with
its audit entry. Refused, with nothing changed, once the review was decided (by a steward or a
later import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tierline.masterdata.golden.matching import plan_new_codes
from tierline.masterdata.golden.reconcile import insert_goldens, link_records, resolve_hierarchy
from tierline.masterdata.golden.rules import BY_ENTITY, GoldenSpec
from tierline.masterdata.golden.survivorship import apply_survivorship
from tierline.platform.audit import record
from tierline.platform.errors import DomainError
from tierline.platform.identity.users import Actor

Decision = Literal["merge", "keep_apart"]


class ReviewNotFound(LookupError):
    """No such review the caller may see (pages answer 404)."""


class ReviewRefused(DomainError):
    """The review cannot be decided (any more); nothing was changed."""

    status_code = 409
    title = "Review cannot be decided"


@dataclass(frozen=True)
class Outcome:
    review_id: int
    entity: str  # customer | product
    source_system: str
    source_key: str
    status: str  # merged | kept_apart
    code: str  # the golden row the record is linked to now
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    siblings_closed: int


def snapshot_columns(spec: GoldenSpec) -> list[str]:
    return [spec.key, *spec.survivorship, "scope"]


async def golden_snapshot(
    conn: AsyncConnection, spec: GoldenSpec, code: str
) -> dict[str, Any] | None:
    """The golden row's surviving attributes (the audit log's before/after)."""
    columns = ", ".join(snapshot_columns(spec))
    row = (
        (
            await conn.execute(
                text(f"SELECT {columns} FROM {spec.table} WHERE {spec.key} = :code"), {"code": code}
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


async def _lock_review(conn: AsyncConnection, review_id: int) -> dict[str, Any] | None:
    row = (
        (
            await conn.execute(
                text("SELECT * FROM match_reviews WHERE id = :id FOR UPDATE"), {"id": review_id}
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


async def _candidate_scope(conn: AsyncConnection, spec: GoldenSpec, code: str) -> str | None:
    found = await conn.execute(
        text(f"SELECT scope FROM {spec.table} WHERE {spec.key} = :code"), {"code": code}
    )
    return found.scalar()


def _refusal(review: Mapping[str, Any]) -> ReviewRefused:
    when = review["decided_at"]
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else "earlier"
    verdict = "merged" if review["status"] == "merged" else "kept apart"
    return ReviewRefused(
        f"Review #{review['id']} was already decided ({verdict} by {review['decided_by']} "
        f"on {stamp}); nothing was changed."
    )


async def _open_review(
    conn: AsyncConnection, review_id: int, scopes: frozenset[str] | None
) -> tuple[dict[str, Any], GoldenSpec, bool]:
    """Lock the review; refuse it unless it is open, visible and its record still unlinked.
    Also says whether the candidate golden row still exists."""
    review = await _lock_review(conn, review_id)
    if review is None:
        raise ReviewNotFound(review_id)
    spec = BY_ENTITY[review["entity"]]
    scope = await _candidate_scope(conn, spec, review["candidate_code"])
    if scopes is not None and scope not in scopes:
        raise ReviewNotFound(review_id)
    if review["status"] != "open":
        raise _refusal(review)
    link = await conn.execute(
        text(
            f"SELECT {spec.link} FROM {spec.sources} WHERE source_system = :src "
            "AND source_key = :key FOR UPDATE"
        ),
        {"src": review["source_system"], "key": review["source_key"]},
    )
    found = link.first()
    if found is None:
        raise ReviewRefused("The source record no longer exists; nothing was changed.")
    if found[0] is not None:
        raise ReviewRefused(
            f"The source record is already linked to {found[0]}; nothing was changed."
        )
    return review, spec, scope is not None


async def _close(conn: AsyncConnection, review: Mapping[str, Any], status: str, actor: str) -> int:
    """Decide the review, and its siblings (same record, other candidates) as kept apart:
    the record is now linked, so it cannot be any of them. Returns siblings closed."""
    await conn.execute(
        text(
            "UPDATE match_reviews SET status = :status, decided_by = :who, decided_at = now() "
            "WHERE id = :id"
        ),
        {"status": status, "who": actor, "id": review["id"]},
    )
    siblings = await conn.execute(
        text(
            "UPDATE match_reviews SET status = 'kept_apart', decided_by = :who, "
            "decided_at = now() WHERE status = 'open' AND entity = :entity "
            "AND source_system = :src AND source_key = :key AND id <> :id"
        ),
        {
            "who": actor,
            "entity": review["entity"],
            "src": review["source_system"],
            "key": review["source_key"],
            "id": review["id"],
        },
    )
    return int(siblings.rowcount or 0)


async def _taken_codes(conn: AsyncConnection, spec: GoldenSpec, candidates: list[str]) -> pl.Series:
    rows = await conn.execute(
        text(f"SELECT {spec.key} FROM {spec.table} WHERE {spec.key} = ANY(CAST(:c AS text[]))"),
        {"c": candidates},
    )
    return pl.Series("code", [str(r[0]) for r in rows], dtype=pl.String)


async def _new_golden_for(conn: AsyncConnection, spec: GoldenSpec, src: str, key: str) -> str:
    """A golden row of its own for one source record (the code rule of :func:`reconcile`)."""
    columns = ["key", "name", "grp", "detail", *[i.column for i in spec.rules.identifiers]]
    alone = pl.DataFrame({c: [key if c == "key" else None] for c in columns}).cast(pl.String)
    taken = await _taken_codes(conn, spec, [key, f"{src.upper()}-{key}"])
    code = str(plan_new_codes(alone, taken, src, spec.rules)["code"][0])
    if code not in await insert_goldens(conn, spec, src, [key], [code]):
        raise ReviewRefused(f"The code {code} was taken meanwhile; nothing was changed.")
    await link_records(conn, spec, src, [key], [code])
    await resolve_hierarchy(conn, spec, src, [code])
    return code


async def decide(
    conn: AsyncConnection,
    review_id: int,
    decision: Decision,
    actor: str,
    scopes: frozenset[str] | None = None,
) -> Outcome:
    """Merge the review's record into its candidate (link + survivorship) or keep it apart
    (a new golden row from the record), in the caller's transaction.

    ``scopes``: the steward's scopes (None: all); a review whose candidate lies outside them
    does not exist for the caller. Raises :class:`ReviewRefused` before changing anything.
    """
    review, spec, candidate_exists = await _open_review(conn, review_id, scopes)
    src, key = review["source_system"], review["source_key"]
    if decision == "merge":
        if not candidate_exists:
            raise ReviewRefused(
                f"The candidate {review['candidate_code']} no longer exists; keep the record "
                "apart instead. Nothing was changed."
            )
        code = review["candidate_code"]
        before = await golden_snapshot(conn, spec, code)
        await link_records(conn, spec, src, [key], [code])
        status = "merged"
    else:
        before = None
        code = await _new_golden_for(conn, spec, src, key)
        status = "kept_apart"
    await apply_survivorship(conn, spec, [code])
    after = await golden_snapshot(conn, spec, code)
    closed = await _close(conn, review, status, actor)
    return Outcome(review_id, spec.entity, src, key, status, code, before, after, closed)


ACTIONS: dict[Decision, str] = {"merge": "golden.merge", "keep_apart": "golden.keep_apart"}


def _audit_after(outcome: Outcome) -> dict[str, Any]:
    return {
        "review_id": outcome.review_id,
        "status": outcome.status,
        "source_system": outcome.source_system,
        "source_key": outcome.source_key,
        "other_candidates_closed": outcome.siblings_closed,
        "golden": outcome.after,
    }


async def decide_and_record(
    session: AsyncSession,
    review_id: int,
    decision: Decision,
    actor: Actor,
    scopes: frozenset[str] | None,
    reason: str | None,
) -> Outcome:
    """:func:`decide`, with its audit entry (``golden.merge`` / ``golden.keep_apart``) in the
    same transaction."""
    outcome = await decide(await session.connection(), review_id, decision, actor.name, scopes)
    await record(
        session,
        actor=actor.name,
        actor_kind=actor.kind,
        action=ACTIONS[decision],
        object_type=outcome.entity,
        object_id=outcome.code,
        before={"golden": outcome.before},
        after=_audit_after(outcome),
        reason=reason,
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    return outcome
