"""Alerts on the stored KPIs: k of n opens one (once), the escalation path is walked step by
step as periods pass, people acknowledge and resolve with a reason; and the rules on their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import StaffFactory
from tierline.monitoring.alert_rules import PeriodResult, cusum, ewma, k_of_n, run_below
from tierline.monitoring.alerts import AlertRefused, acknowledge, list_alerts, resolve
from tierline.monitoring.models import KpiAlert
from tierline.monitoring.refresh import refresh
from tierline.monitoring.store import save_definition
from tierline.platform.identity.users import Actor
from tierline.platform.notifications.models import EmailOutbox, Notification
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

from .builders import build_world


async def alert_at_two_of_four(tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        await save_definition(s, {"alert_k": 2, "alert_n": 4}, Actor("planner@example.com"))


def week_otif(alerts: list[KpiAlert]) -> list[KpiAlert]:
    return [a for a in alerts if (a.segment, a.kpi, a.grain) == ("A", "otif", "week")]


async def test_a_sustained_breach_opens_one_alert_that_walks_the_escalation_path(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await make_staff(tenant, email="boss@example.com", role="admin")
    world = await build_world(tenant)
    await alert_at_two_of_four(tenant)
    # two weeks ago: A has missed two closed weeks in a row (weeks 4 and 3 back)
    early = await refresh(runtime, tenant, as_of=world.week(2))
    async with tenant_session(tenant) as s:
        (alert,) = week_otif(await list_alerts(s, "live"))
        assert alert.state == "open" and alert.rule == "k_of_n"
        assert alert.periods_below == 2 and alert.step_reached == 1
        told = (await s.scalars(select(Notification.recipient_email))).all()
        assert "planner@example.com" in told and "boss@example.com" not in told
    assert early.alerts.escalated >= 1

    # two weeks on: four weeks below, step 2 (every admin, by e-mail) is reached, once
    await refresh(runtime, tenant, as_of=world.today)
    await refresh(runtime, tenant, as_of=world.today)
    async with tenant_session(tenant) as s:
        (alert,) = week_otif(await list_alerts(s, "live"))
        assert alert.periods_below == 4 and alert.step_reached == 2
        assert alert.value == pytest.approx(0.5) and alert.target == pytest.approx(0.95)
        mails = (await s.scalars(select(EmailOutbox.to_address))).all()
        assert mails.count("boss@example.com") == len(
            [a for a in await list_alerts(s, "live") if a.step_reached >= 2]
        )


async def test_people_acknowledge_and_resolve_with_a_reason(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    await refresh(runtime, tenant, as_of=world.today)
    actor = Actor("planner@example.com")
    async with tenant_session(tenant) as s:
        (alert,) = week_otif(await list_alerts(s, "live"))
        with pytest.raises(AlertRefused):
            await acknowledge(s, alert.id, actor, "  ")
        done = await acknowledge(s, alert.id, actor, "carrier swapped from Monday")
        assert done.state == "acknowledged" and done.acknowledged_by == actor.name
    # evaluated again: still one live alert (acknowledged), none opened beside it
    await refresh(runtime, tenant, as_of=world.today)
    async with tenant_session(tenant) as s:
        (alert,) = week_otif(await list_alerts(s, "live"))
        assert alert.state == "acknowledged"
        ended = await resolve(s, alert.id, actor, "carrier fixed, watching")
        assert ended.state == "resolved" and ended.resolve_reason == "carrier fixed, watching"
        with pytest.raises(AlertRefused):
            await resolve(s, alert.id, actor, "again")


async def test_an_alert_is_resolved_by_the_system_once_back_on_target(
    runtime: Runtime, tenant: TenantRef
) -> None:
    world = await build_world(tenant)
    await alert_at_two_of_four(tenant)
    await refresh(runtime, tenant, as_of=world.week(2))  # open after two missed weeks
    # seen from a day where the window holds weeks on target only (five weeks earlier)
    later = await refresh(runtime, tenant, as_of=world.week(5) + timedelta(days=1))
    assert later.alerts.resolved >= 1
    async with tenant_session(tenant) as s:
        resolved = week_otif(await list_alerts(s, "resolved"))
        assert resolved and resolved[0].resolved_by == "Tierline"


def series(*met: bool | None, value: float = 0.8, target: float = 0.9) -> list[PeriodResult]:
    return [PeriodResult(None if m is None else (target if m else value), target, m) for m in met]


def test_k_of_n_counts_misses_in_the_last_n_measured_periods() -> None:
    assert k_of_n(series(False, False, True, False), 3, 4).breached
    assert not k_of_n(series(False, True, True, False), 3, 4).breached
    # an unmeasured period is skipped, not counted as met
    assert k_of_n(series(False, None, False, False), 3, 3).breached
    assert run_below(series(True, False, None, False)) == 2


def test_drift_rules_catch_a_small_persistent_shortfall_and_forget_a_single_one() -> None:
    slight = series(False, False, False, False, False, value=0.885, target=0.9)
    assert cusum(slight).breached  # 5 x (1.5 - 0.5) points = 5 > 3
    assert ewma(slight).breached
    once = series(True, True, False, True, True, value=0.89, target=0.9)
    assert not cusum(once).breached
    assert not ewma(once).breached
