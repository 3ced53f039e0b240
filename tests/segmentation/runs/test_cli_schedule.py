"""``tierline segment`` commands, the rebalancing scheduler and the stale-feed check."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text, update
from typer.testing import CliRunner

from tierline.masterdata.models import Feed
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.cli import segment_app
from tierline.segmentation.models import SegmentationRun, SegmentationScheme
from tierline.segmentation.runs.jobs import schedule_tenant
from tierline.segmentation.runs.service import run_scheme
from tierline.segmentation.schemes.document import load_template, parse_scheme
from tierline.segmentation.schemes.store import create_scheme, publish

ACTOR = Actor("planner@example.com")


def _lightweight(code: str, extra: str = "") -> str:
    return load_template("lightweight").replace("lightweight_abc", code) + extra


async def _cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, segment_app, list(args))
    return result.exit_code, result.output


async def test_cli_publish_run_and_verify_then_detect_tampering(
    seeded_tenant: TenantRef, runtime: Runtime, tmp_path: Path
) -> None:
    slug = seeded_tenant.slug
    document = tmp_path / "scheme.yaml"
    document.write_text(_lightweight("cli_light"), encoding="utf-8")
    code, out = await _cli("publish", str(document), "--tenant", slug, "--note", "first")
    assert code == 0 and "published cli_light version 1" in out, out
    code, out = await _cli("publish", str(document), "--tenant", slug)
    assert code == 1 and "identical to version 1" in out  # nothing new: refused

    code, out = await _cli("run", "--tenant", slug, "--scheme", "cli_light")
    assert code == 0 and "succeeded" in out, out
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        run_id = (
            await s.execute(
                select(SegmentationRun.id).where(SegmentationRun.scheme_code == "cli_light")
            )
        ).scalar_one()
    code, out = await _cli("verify", str(run_id), "--tenant", slug)
    assert code == 0 and out.startswith("MATCH"), out

    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await s.execute(
            text(
                "UPDATE run_results SET segment = CASE segment WHEN 'A' THEN 'C' ELSE 'A' END "
                "WHERE run_id = :r AND entity_key = "
                "(SELECT min(entity_key) FROM run_results WHERE run_id = :r)"
            ),
            {"r": run_id},
        )
    code, out = await _cli("verify", str(run_id), "--tenant", slug)
    assert code == 1 and out.startswith("DIFFERS: 1 of"), out

    code, out = await _cli("list", "--tenant", slug)
    assert code == 0 and "cli_light" in out


async def test_cli_refuses_an_invalid_document_and_unknown_scheme(
    seeded_tenant: TenantRef, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_lightweight("cli_bad").replace("A: 0.80", "A: 0.99"), encoding="utf-8")
    code, out = await _cli("publish", str(bad), "--tenant", seeded_tenant.slug)
    assert code == 1 and "thresholds" in out
    code, out = await _cli("run", "--tenant", seeded_tenant.slug, "--scheme", "no_such")
    assert code == 1 and "no_such" in out


async def test_scheduler_queues_each_due_slot_once_and_moves_on(
    seeded_tenant: TenantRef, runtime: Runtime
) -> None:
    source = _lightweight("sched_light", "\nschedule: {frequency: daily}\n")
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await create_scheme(s, source, ACTOR)
        await publish(s, "sched_light", ACTOR)
        row = await s.get(SegmentationScheme, "sched_light")
        assert row is not None and row.next_run_at is not None
        first_slot = row.next_run_at
    now = first_slot + timedelta(minutes=1)
    queued = await schedule_tenant(runtime, seeded_tenant, now)
    assert len(queued) == 1
    again = await schedule_tenant(runtime, seeded_tenant, now)
    assert again == []  # the slot was consumed
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        row = await s.get(SegmentationScheme, "sched_light")
        assert row is not None and row.next_run_at is not None
        assert row.next_run_at > now and row.next_run_at - first_slot == timedelta(days=1)
        job = (
            await s.execute(text("SELECT kind, params FROM jobs WHERE id = :i"), {"i": queued[0]})
        ).one()
    assert job.kind == "segmentation.run" and job.params["trigger"] == "schedule"


def test_next_run_skips_freeze_windows() -> None:
    scheme = parse_scheme(
        _lightweight(
            "freeze_light",
            '\nschedule: {frequency: daily, freeze: [{from: "12-01", to: "12-31"}]}\n',
        )
    ).scheme
    from tierline.segmentation.schemes.document import next_run_after

    after = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert next_run_after(scheme, after) == datetime(2027, 1, 1, 2, 0, tzinfo=UTC)


async def test_stale_feed_refuses_or_warns_as_the_scheme_says(
    seeded_tenant: TenantRef, runtime: Runtime
) -> None:
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        feeds = (await s.execute(select(Feed).where(Feed.entity == "order_lines"))).scalars().all()
        assert feeds, "the seed records an order-lines feed"
        saved = {f.name: (f.last_success_at, f.staleness_hours) for f in feeds}
        await s.execute(
            update(Feed)
            .where(Feed.entity == "order_lines")
            .values(last_success_at=datetime.now(UTC) - timedelta(days=3), staleness_hours=24)
        )
    try:
        for code, mode in (("stale_refuse", "refuse"), ("stale_warn", "warn")):
            async with tenant_session(seeded_tenant, runtime.databases) as s:
                await create_scheme(
                    s, _lightweight(code, f"\ndata_checks: {{stale_feeds: {mode}}}\n"), ACTOR
                )
                await publish(s, code, ACTOR)
        refused = await run_scheme(runtime, seeded_tenant, "stale_refuse", actor=ACTOR)
        assert refused.status == "refused" and "stale" in (refused.message or "")
        warned = await run_scheme(runtime, seeded_tenant, "stale_warn", actor=ACTOR)
        assert warned.status == "succeeded"
        assert any("last loaded 72 h ago" in w for w in warned.warnings)
    finally:
        async with tenant_session(seeded_tenant, runtime.databases) as s:
            for name, (at, hours) in saved.items():
                await s.execute(
                    update(Feed)
                    .where(Feed.name == name)
                    .values(last_success_at=at, staleness_hours=hours)
                )
