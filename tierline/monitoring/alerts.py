"""Alerts: evaluating the rules after each KPI update and on schedule, their states, and the
walk along each segment's escalation path.

Evaluation reads the closed periods (the one holding the as-of day is still running) of each
segment and targeted KPI, per grain, and applies ``alert_rules``. A breach opens an alert unless
a live one (open or acknowledged) of the same scheme, segment, KPI, grain and rule exists — the
partial unique index makes that hold under concurrent evaluations too (``ON CONFLICT DO
NOTHING``); a live alert is refreshed instead. An open alert whose segment is back on target is
resolved by the system, with the period that ended it as the reason.

Escalation: the segment's path (service levels) lists steps ``notify`` / ``after_periods`` /
``period`` / ``channel``. An *open* alert of that period's grain reaches step ``n`` once its run
of consecutive periods below target is at least ``after_periods``; each step is told once (in
app, and by e-mail through the outbox when its channel is ``email``), keyed by alert and step.
``role:<role>`` means every active staff user holding the role. Acknowledging stops the walk
(someone owns it); resolving ends the alert. Both record who and why, in the audit log as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.monitoring.alert_rules import PeriodResult, Verdict, evaluate
from tierline.monitoring.definitions import KpiDefinition
from tierline.monitoring.engine import GRAINS, KPI_LABELS, TARGET_OF, Grain
from tierline.monitoring.figures import (
    Filters,
    period_floor,
    periods_back,
    summed,
    target_versions,
    with_attainment,
)
from tierline.monitoring.models import KpiAlert
from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.identity.models import RoleGrant, User
from tierline.platform.notifications import notify
from tierline.service_levels.service import escalation_path

KIND = "kpi_alert"
SYSTEM = "Tierline"


class AlertNotFound(DomainError):
    status_code = 404
    title = "Alert not found"


class AlertRefused(DomainError):
    status_code = 409
    title = "Alert change refused"


@dataclass(frozen=True)
class Evaluation:
    opened: int
    refreshed: int
    resolved: int
    escalated: int


def series_of(frame: pl.DataFrame, kpi: str) -> list[PeriodResult]:
    """One segment's periods (sorted) as the rules read them."""
    return [
        PeriodResult(r[kpi], r[f"{kpi}_target"], r[f"{kpi}_met"])
        for r in frame.sort("period_start").iter_rows(named=True)
    ]


async def _closed_periods(
    session: AsyncSession,
    scheme: str,
    definition: KpiDefinition,
    grain: Grain,
    as_of: date,
) -> pl.DataFrame:
    """Per segment and closed period the KPIs, targets and ``_met``, over the rule window."""
    window = periods_back(as_of, grain, definition.alert_n + 1)
    conn = await session.connection()
    sums = await summed(
        conn,
        grain,
        ["segment", "period_start"],
        Filters(since=window[0], until=window[-1]),
    )
    current = period_floor(as_of, grain)
    sums = sums.filter(pl.col("period_start") < current)
    return with_attainment(sums, await target_versions(session, scheme), definition, grain)


def verdicts_by_segment(
    frame: pl.DataFrame, definition: KpiDefinition
) -> list[tuple[str, str, Verdict, PeriodResult]]:
    """(segment, KPI, verdict, newest measured period) for every breach and non-breach."""
    out: list[tuple[str, str, Verdict, PeriodResult]] = []
    if frame.is_empty() or "otif_met" not in frame.columns:
        return out
    for (segment,), rows in frame.group_by(["segment"]):
        for kpi in TARGET_OF:
            series = series_of(rows, kpi)
            latest = next((p for p in reversed(series) if p.met is not None), None)
            if latest is None:
                continue
            lower = kpi == "lead_time_days"
            for verdict in evaluate(
                series, definition.alert_k, definition.alert_n, definition.drift, lower
            ):
                out.append((str(segment), kpi, verdict, latest))
    return out


async def evaluate_alerts(
    session: AsyncSession,
    scheme: str | None,
    definition: KpiDefinition,
    as_of: date,
    slug: str | None = None,
) -> Evaluation:
    """Open, refresh and resolve alerts from the stored KPIs, then walk the escalation paths."""
    if scheme is None:
        return Evaluation(0, 0, 0, 0)
    opened = refreshed = resolved = 0
    for grain in GRAINS:
        frame = await _closed_periods(session, scheme, definition, grain, as_of)
        last: Any = frame["period_start"].max() if not frame.is_empty() else None
        for segment, kpi, verdict, latest in verdicts_by_segment(frame, definition):
            key = (scheme, segment, kpi, grain, verdict.rule)
            live = await _live(session, *key)
            if verdict.breached and live is None:
                opened += await _open(session, key, verdict, latest, last)
            elif verdict.breached and live is not None:
                _refresh(live, verdict, latest, last)
                refreshed += 1
            elif live is not None and live.state == "open":
                await _resolve(session, live, None, f"back on target by the period of {last!s}")
                resolved += 1
    escalated = await escalate(session, scheme, slug)
    return Evaluation(opened, refreshed, resolved, escalated)


async def _live(
    session: AsyncSession, scheme: str, segment: str, kpi: str, grain: str, rule: str
) -> KpiAlert | None:
    found: KpiAlert | None = await session.scalar(
        select(KpiAlert).where(
            KpiAlert.scheme_code == scheme,
            KpiAlert.segment == segment,
            KpiAlert.kpi == kpi,
            KpiAlert.grain == grain,
            KpiAlert.rule == rule,
            KpiAlert.state != "resolved",
        )
    )
    return found


async def _open(
    session: AsyncSession,
    key: tuple[str, str, str, str, str],
    verdict: Verdict,
    latest: PeriodResult,
    last: Any,
) -> int:
    scheme, segment, kpi, grain, rule = key
    first = periods_back(last, grain, max(verdict.periods_below, 1))[0]  # type: ignore[arg-type]
    statement = (
        pg_insert(KpiAlert)
        .values(
            scheme_code=scheme,
            segment=segment,
            kpi=kpi,
            grain=grain,
            rule=rule,
            state="open",
            first_period=first,
            last_period=last,
            periods_below=verdict.periods_below,
            value=latest.value,
            target=latest.target,
            step_reached=0,
            detail=verdict.detail,
            opened_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(
            index_elements=["scheme_code", "segment", "kpi", "grain", "rule"],
            index_where=text("state <> 'resolved'"),  # the partial index's own predicate
        )
    )
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _refresh(alert: KpiAlert, verdict: Verdict, latest: PeriodResult, last: Any) -> None:
    alert.last_period = last
    alert.periods_below = verdict.periods_below
    alert.value = latest.value
    alert.target = latest.target
    alert.detail = verdict.detail


async def _resolve(
    session: AsyncSession, alert: KpiAlert, actor: ActingParty | None, reason: str
) -> None:
    alert.state = "resolved"
    alert.resolved_by = actor.name if actor else SYSTEM
    alert.resolved_at = datetime.now(UTC)
    alert.resolve_reason = reason
    await session.flush()
    if actor is not None:
        await record_by(
            session,
            actor,
            "kpi_alert.resolve",
            "kpi_alert",
            str(alert.id),
            after={"reason": reason},
        )


# ---------------------------------------------------------------------------------------------
# People acting on alerts


async def _get(session: AsyncSession, alert_id: int) -> KpiAlert:
    alert = await session.get(KpiAlert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return alert


async def acknowledge(
    session: AsyncSession, alert_id: int, actor: ActingParty, reason: str
) -> KpiAlert:
    """Someone owns the alert: the escalation stops walking; audited."""
    alert = await _get(session, alert_id)
    if alert.state != "open":
        raise AlertRefused(f"alert {alert_id} is {alert.state}; only an open alert is acknowledged")
    if not reason.strip():
        raise AlertRefused("say why (what is being done about it)")
    alert.state = "acknowledged"
    alert.acknowledged_by = actor.name
    alert.acknowledged_at = datetime.now(UTC)
    alert.acknowledge_reason = reason.strip()[:2000]
    await session.flush()
    await record_by(
        session,
        actor,
        "kpi_alert.acknowledge",
        "kpi_alert",
        str(alert.id),
        after={"reason": alert.acknowledge_reason},
    )
    return alert


async def resolve(
    session: AsyncSession, alert_id: int, actor: ActingParty, reason: str
) -> KpiAlert:
    """The alert ends (a later breach opens a new one); audited."""
    alert = await _get(session, alert_id)
    if alert.state == "resolved":
        raise AlertRefused(f"alert {alert_id} is resolved already")
    if not reason.strip():
        raise AlertRefused("say why it is resolved")
    await _resolve(session, alert, actor, reason.strip()[:2000])
    return alert


# ---------------------------------------------------------------------------------------------
# Escalation


async def role_holders(session: AsyncSession, role: str) -> list[str]:
    rows = await session.execute(
        select(User.email)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == role, User.status == "active", User.kind == "staff")
        .order_by(User.email)
    )
    return list(dict.fromkeys(rows.scalars()))


async def recipients(session: AsyncSession, notify_to: str) -> list[str]:
    if notify_to.startswith("role:"):
        return await role_holders(session, notify_to[5:])
    return [notify_to]


def alert_title(alert: KpiAlert) -> str:
    return f"{alert.segment}: {KPI_LABELS.get(alert.kpi, alert.kpi)} below target"


def alert_link(slug: str | None, alert: KpiAlert) -> str | None:
    return f"/t/{slug}/performance/alerts#alert-{alert.id}" if slug else None


async def escalate(session: AsyncSession, scheme: str, slug: str | None = None) -> int:
    """Tell each due step of each open alert's path, once; how many steps were told."""
    alerts = (
        await session.scalars(
            select(KpiAlert).where(KpiAlert.scheme_code == scheme, KpiAlert.state == "open")
        )
    ).all()
    told = 0
    for alert in alerts:
        steps = await escalation_path(session, scheme, alert.segment)
        for step in steps:
            if step["period"] != alert.grain or step["step"] <= alert.step_reached:
                continue
            if alert.periods_below < step["after_periods"]:
                break
            await notify(
                session,
                recipients=await recipients(session, step["notify"]),
                kind=KIND,
                title=f"Escalation step {step['step']}: {alert_title(alert)}",
                body=(
                    f"{alert.periods_below} {alert.grain}(s) below target in a row "
                    f"(since {alert.first_period}); {alert.detail}."
                ),
                link=alert_link(slug, alert),
                dedupe_key=f"kpi-alert-{alert.id}-step-{step['step']}",
                email=step["channel"] == "email",
            )
            alert.step_reached = step["step"]
            told += 1
    await session.flush()
    return told


async def list_alerts(
    session: AsyncSession, state: str | None = None, limit: int | None = 200
) -> list[KpiAlert]:
    """Alerts newest first: ``live`` (open and acknowledged), one state, or all (None)."""
    query = select(KpiAlert)
    if state == "live":
        query = query.where(KpiAlert.state != "resolved")
    elif state:
        query = query.where(KpiAlert.state == state)
    query = query.order_by(KpiAlert.id.desc())
    rows = await session.scalars(query if limit is None else query.limit(limit))
    return list(rows.all())


async def addressed_to(session: AsyncSession, email: str, roles: set[str]) -> list[KpiAlert]:
    """Open alerts whose escalation reached a step naming ``email`` or one of ``roles``."""
    alerts = await list_alerts(session, "open")
    found = []
    for alert in alerts:
        if alert.step_reached == 0:
            continue
        steps = await escalation_path(session, alert.scheme_code, alert.segment)
        named = {s["notify"] for s in steps if s["step"] <= alert.step_reached}
        if email.lower() in named or any(f"role:{r}" in named for r in roles):
            found.append(alert)
    return found


def alert_dict(alert: KpiAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "scheme_code": alert.scheme_code,
        "segment": alert.segment,
        "kpi": alert.kpi,
        "kpi_label": KPI_LABELS.get(alert.kpi, alert.kpi),
        "grain": alert.grain,
        "rule": alert.rule,
        "state": alert.state,
        "first_period": alert.first_period,
        "last_period": alert.last_period,
        "periods_below": alert.periods_below,
        "value": alert.value,
        "target": alert.target,
        "step_reached": alert.step_reached,
        "detail": alert.detail,
        "opened_at": alert.opened_at,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledge_reason": alert.acknowledge_reason,
        "resolved_by": alert.resolved_by,
        "resolved_at": alert.resolved_at,
        "resolve_reason": alert.resolve_reason,
    }
