"""As-of dates and governance: freeze windows follow the days the moves take effect, future
dates are refused beyond a day, and a back-dated run after an approval is refused up front
(recorded; one line in the CLI; a failed job with a refusal code, never retried)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.segmentation_builders import bearer
from tierline.platform.identity.users import Actor
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.cli import segment_app
from tierline.segmentation.models import SegmentationRun, SegmentationScheme
from tierline.segmentation.runs.service import (
    FUTURE_TOLERANCE,
    RunRefused,
    freeze_crossed,
    run_scheme,
)
from tierline.segmentation.schemes.document import load_template, parse_scheme
from tierline.segmentation.schemes.store import create_scheme, publish, save_draft
from tierline.segmentation.service import apply_moves, lock_moves, pending_moves, record_decision

ACTOR = Actor("planner@example.com")
TODAY = datetime.now(UTC).date()
TIGHTER = ("A: 0.80", "A: 0.30"), ("B: 0.95", "B: 0.50")


def lightweight(code: str, extra: str = "") -> str:
    return load_template("lightweight").replace("lightweight_abc", code) + extra


def tighter(text: str) -> str:
    for old, new in TIGHTER:
        text = text.replace(old, new)
    return text


def month_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


async def publish_text(runtime: Runtime, tenant: TenantRef, code: str, text: str) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        if await s.get(SegmentationScheme, code) is None:
            await create_scheme(s, text, ACTOR)
        else:
            await save_draft(s, code, text, ACTOR)
        await publish(s, code, ACTOR)


async def runs_of(runtime: Runtime, tenant: TenantRef, code: str) -> list[SegmentationRun]:
    async with tenant_session(tenant, runtime.databases) as s:
        return list(
            (
                await s.execute(
                    select(SegmentationRun)
                    .where(SegmentationRun.scheme_code == code)
                    .order_by(SegmentationRun.started_at)
                )
            ).scalars()
        )


# -- B3: freeze windows cannot be sidestepped with the as-of date ---------------------------


def test_freeze_crossed_covers_every_day_between_as_of_and_today() -> None:
    day = month_day(TODAY)
    text = lightweight("ff", f'\nschedule: {{freeze: [{{from: "{day}", to: "{day}"}}]}}\n')
    scheme = parse_scheme(text).scheme
    for as_of in (TODAY, TODAY - timedelta(days=5), TODAY + timedelta(days=1)):
        crossed = freeze_crossed(scheme, as_of, TODAY)
        assert crossed is not None and crossed[1] == TODAY
    # a span of a year or more crosses every window, whatever its length
    assert freeze_crossed(scheme, TODAY - timedelta(days=800), TODAY - timedelta(days=10))
    assert freeze_crossed(scheme, TODAY - timedelta(days=30), TODAY - timedelta(days=1)) is None
    free = parse_scheme(lightweight("gg")).scheme
    assert freeze_crossed(free, TODAY - timedelta(days=30), TODAY) is None


@pytest.mark.parametrize("shift", [-5, 1], ids=["past", "future"])
async def test_inside_a_freeze_a_run_dated_elsewhere_holds_its_moves(
    runtime: Runtime, seeded_tenant: TenantRef, shift: int
) -> None:
    code = f"freeze_{'past' if shift < 0 else 'next'}"
    today = month_day(TODAY)
    frozen_today = f'\nschedule: {{freeze: [{{from: "{today}", to: "{today}", reason: Peak}}]}}\n'
    await publish_text(runtime, seeded_tenant, code, lightweight(code))
    start = TODAY - timedelta(days=20)
    first = await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, as_of=start)
    assert first.status == "succeeded"
    await publish_text(runtime, seeded_tenant, code, tighter(lightweight(code, frozen_today)))
    # Today is frozen; the as-of date is not. The moves would take effect from the as-of date
    # up to today, so they are held all the same.
    as_of = TODAY + timedelta(days=shift)
    outcome = await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, as_of=as_of)
    assert outcome.status == "succeeded"
    outcomes = outcome.counts["outcomes"]
    assert outcomes.get("frozen", 0) > 0 and "applied" not in outcomes, outcomes
    assert any("freeze window" in w and "Peak" in w for w in outcome.warnings), outcome.warnings


# -- B4: future as-of dates ------------------------------------------------------------------


async def test_a_future_as_of_is_refused_and_does_not_block_normal_runs(
    runtime: Runtime, seeded_tenant: TenantRef, client: httpx.AsyncClient
) -> None:
    code = "future_as_of"
    await publish_text(runtime, seeded_tenant, code, lightweight(code))
    future = TODAY + FUTURE_TOLERANCE + timedelta(days=1)
    with pytest.raises(RunRefused, match="in the future"):
        await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, as_of=future)
    [refused] = await runs_of(runtime, seeded_tenant, code)
    assert refused.status == "refused" and "in the future" in (refused.message or "")
    # ... and the normal (scheduled, manual) run of today still runs
    normal = await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, trigger="schedule")
    assert normal.status == "succeeded"
    # the API refuses it before queueing anything
    headers = await bearer(client, seeded_tenant, ["segments:read", "segments:run"])
    answer = await client.post(
        "/api/v1/segment-runs",
        json={"scheme": code, "as_of": (TODAY + timedelta(days=30)).isoformat()},
        headers=headers,
    )
    assert answer.status_code == 409 and "in the future" in answer.text
    # tomorrow is within the tolerance (time zones ahead of UTC)
    tomorrow = await run_scheme(
        runtime, seeded_tenant, code, actor=ACTOR, as_of=TODAY + FUTURE_TOLERANCE
    )
    assert tomorrow.status == "succeeded"


# -- B5: back-dating after an approval -------------------------------------------------------


async def _approve_one_pending_move(runtime: Runtime, tenant: TenantRef, code: str) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        page = await pending_moves(s, code, limit=1)
        moves = await lock_moves(s, [page.rows[0].id])
        now = datetime.now(UTC)
        await apply_moves(s, moves, reason="approved", by="approver@example.com", at=now)
        await record_decision(
            s, [m.id for m in moves], "applied", by="approver@example.com", at=now, reason="ok"
        )


async def test_a_back_dated_run_after_an_approval_is_refused_up_front(
    runtime: Runtime, seeded_tenant: TenantRef, client: httpx.AsyncClient
) -> None:
    code = "back_dated"
    await publish_text(runtime, seeded_tenant, code, lightweight(code))
    await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, as_of=TODAY - timedelta(days=20))
    held = tighter(lightweight(code, "\nreclassification: {max_share_moving: 0.01}\n"))
    await publish_text(runtime, seeded_tenant, code, held)
    second = await run_scheme(
        runtime, seeded_tenant, code, actor=ACTOR, as_of=TODAY - timedelta(days=15)
    )
    assert second.counts["outcomes"].get("pending", 0) > 0
    await _approve_one_pending_move(runtime, seeded_tenant, code)  # in force from now on
    back = (TODAY - timedelta(days=10)).isoformat()

    # the service: refused with the reason, and the refusal recorded as a run
    with pytest.raises(RunRefused, match="latest change"):
        await run_scheme(runtime, seeded_tenant, code, actor=ACTOR, as_of=date.fromisoformat(back))
    assert [r.status for r in await runs_of(runtime, seeded_tenant, code)][-1] == "refused"

    # the CLI: one line on stderr, exit status 1, no traceback
    result = await asyncio.to_thread(
        CliRunner().invoke,
        segment_app,
        ["run", "--tenant", seeded_tenant.slug, "--scheme", code, "--as-of", back],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "IntegrityError" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "latest change" in lines[0], result.stderr

    # the API: the job fails once with the refusal code, and a run row records why
    headers = await bearer(client, seeded_tenant, ["segments:read", "segments:run", "jobs:read"])
    queued = await client.post(
        "/api/v1/segment-runs", json={"scheme": code, "as_of": back}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job"]["id"]
    assert await execute_job(runtime, seeded_tenant.slug, job_id) == "failed"
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "failed" and job["error_code"] == "run_refused", job
    assert "latest change" in job["error"] and job["attempts"] == 1, job
    recorded = await runs_of(runtime, seeded_tenant, code)
    assert [r.status for r in recorded][-3:] == ["refused", "refused", "refused"]
    assert recorded[-1].job_id == job_id and "latest change" in (recorded[-1].message or "")
    # today is still fine
    assert (await run_scheme(runtime, seeded_tenant, code, actor=ACTOR)).status == "succeeded"
