"""What an import ends as, whatever happens: a file with NUL bytes is rejected with a stored,
downloadable error report; an import whose process stopped is marked failed (by the sweep, or
at once when it failed on our side) with a reason shown on its page and in the API; the pages
and the command line say the import's outcome in plain words."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.conftest import StaffFactory, csrf_of, sign_in
from tests.masterdata.importing.test_import import CUSTOMERS, load, write
from tests.masterdata.importing.test_import_api import import_link
from tierline.masterdata.importing import service
from tierline.masterdata.importing.cli import import_file
from tierline.masterdata.importing.jobs import remove_stale_uploads, sweep_interrupted_imports
from tierline.masterdata.importing.models import Import
from tierline.masterdata.importing.records import INTERRUPTED, fail_interrupted
from tierline.masterdata.models import Customer
from tierline.platform.db import utcnow
from tierline.platform.jobs.models import TenantJob
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def upload(
    client: httpx.AsyncClient, tenant: TenantRef, runtime: Runtime, name: str, content: bytes
) -> tuple[str, str]:
    """Upload a customers file and run its job: (job page URL, job outcome)."""
    page = await client.get(f"/t/{tenant.slug}/imports")
    resp = await client.post(
        f"/t/{tenant.slug}/imports",
        data={"entity": "customers", "_csrf": csrf_of(page.text)},
        files={"file": (name, content, "text/csv")},
    )
    assert resp.status_code == 303, resp.text
    job_url = resp.headers["location"]
    return job_url, await execute_job(runtime, tenant.slug, job_url.rsplit("/", 1)[1])


async def test_a_csv_with_nul_bytes_is_rejected_with_a_downloadable_error_report(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, runtime: Runtime
) -> None:
    """PostgreSQL stores no NUL in text: the report writes control characters out (``\\x00``)
    instead of failing to store itself (which left the import validating for ever)."""
    await sign_in(client, await make_staff(tenant, "data_steward"))
    content = b"code,name,account_type\nC1,Al\x00pha,ship_to\nC2,Be\x07ta,ship_to\n"
    job_url, outcome = await upload(client, tenant, runtime, "nul.csv", content)
    assert outcome == "succeeded"  # the job ran to its end: the import's outcome is rejected
    done = await client.get(job_url, headers={"hx-request": "true"})
    assert "Import <strong>rejected</strong>" in done.text and "succeeded" not in done.text
    assert "2 problems in 2 rows; nothing applied" in done.text
    import_url = import_link(done.text, tenant)
    detail = await client.get(import_url)
    assert "rejected" in detail.text and "Al\\x00pha" in detail.text
    report = await client.get(f"{import_url}/errors.csv")
    assert report.status_code == 200
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.content.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows == [
        ["line", "column", "value", "reason"],
        ["2", "name", "Al\\x00pha", "control characters are not allowed"],
        ["3", "name", "Be\\x07ta", "control characters are not allowed"],
    ]
    async with tenant_session(tenant) as s:
        assert await s.scalar(select(func.count()).select_from(Customer)) == 0
        statuses = list((await s.execute(select(Import.status))).scalars())
    assert statuses == ["rejected"]


async def _import_row(
    tenant: TenantRef, *, age: dt.timedelta, job_id: str | None = None, beat: bool = False
) -> uuid.UUID:
    import_id = uuid.uuid4()
    created = utcnow() - age
    async with tenant_session(tenant) as s:
        s.add(
            Import(
                id=import_id,
                entity="customers",
                profile="generic_customers",
                source_system="erp",
                file_name="customers.csv",
                file_sha256="",
                file_bytes=10,
                status="validating",
                job_id=job_id,
                created_at=created,
                heartbeat_at=utcnow() if beat else None,
            )
        )
    return import_id


async def _job(tenant: TenantRef, job_id: str, status: str, started: dt.datetime) -> None:
    async with tenant_session(tenant) as s:
        s.add(TenantJob(id=job_id, kind="masterdata.import", status=status, started_at=started))


async def test_imports_left_validating_by_a_dead_process_are_marked_failed_by_the_sweep(
    client: httpx.AsyncClient,
    tenant: TenantRef,
    make_staff: StaffFactory,
    runtime: Runtime,
) -> None:
    hour = dt.timedelta(hours=1)
    # its job failed (three attempts that each died) while the import said "validating"
    await _job(tenant, "j-dead", "failed", utcnow() - hour)
    dead_job = await _import_row(tenant, age=dt.timedelta(minutes=2), job_id="j-dead")
    # its job was started again since: this attempt is over (the next records its own)
    await _job(tenant, "j-again", "running", utcnow())
    retried = await _import_row(tenant, age=dt.timedelta(minutes=3), job_id="j-again")
    # its job was delivered twice and started again, but this import still beats: alive
    await _job(tenant, "j-twice", "running", utcnow())
    beating = await _import_row(tenant, age=dt.timedelta(minutes=3), job_id="j-twice", beat=True)
    # a command-line import whose process was killed: no heartbeat for ten minutes
    silent = await _import_row(tenant, age=dt.timedelta(minutes=10))
    # alive: a running job that started before it, and a fresh heartbeat
    await _job(tenant, "j-live", "running", utcnow() - hour)
    alive = await _import_row(tenant, age=hour, job_id="j-live", beat=True)
    just_started = await _import_row(tenant, age=dt.timedelta(seconds=5))

    assert await sweep_interrupted_imports(runtime) >= 3
    assert await fail_interrupted(tenant) == []  # the sweep found them all already
    async with tenant_session(tenant) as s:
        rows = {r.id: r for r in (await s.execute(select(Import))).scalars()}
        actions = list(
            (
                await s.execute(
                    text("SELECT object_id FROM audit_log WHERE action = 'imports.fail'")
                )
            ).scalars()
        )
    for swept in (dead_job, retried, silent):
        assert (rows[swept].status, rows[swept].failure_reason) == ("failed", INTERRUPTED)
        assert rows[swept].finished_at is not None and str(swept) in actions
    assert rows[alive].status == rows[just_started].status == "validating"
    assert rows[beating].status == "validating"

    await sign_in(client, await make_staff(tenant, "data_steward"))
    page = await client.get(f"/t/{tenant.slug}/imports/{silent}")
    assert "Status: <strong>failed</strong>" in page.text and "was interrupted" in page.text
    listing = await client.get(f"/t/{tenant.slug}/imports")
    assert "failed" in listing.text
    headers = await _api(client, tenant)
    body = (await client.get(f"/api/v1/imports/{silent}", headers=headers)).json()
    assert (body["status"], body["failure_reason"]) == ("failed", INTERRUPTED)


async def _api(client: httpx.AsyncClient, tenant: TenantRef) -> dict[str, str]:
    from tests.masterdata.importing.test_import_api import bearer

    return await bearer(client, tenant, ["imports:run"])


async def test_an_import_that_fails_on_our_side_is_marked_failed_at_once(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "apply_rows", broken)
    with pytest.raises(RuntimeError):
        await load(runtime, tenant, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    async with tenant_session(tenant) as s:
        row = (await s.execute(select(Import))).scalar_one()
        assert await s.scalar(select(func.count()).select_from(Customer)) == 0
    assert row.status == "failed" and row.failure_reason is not None
    assert f"Quote import id {row.id}" in row.failure_reason
    assert "database went away" not in row.failure_reason  # internals go to the log only


async def test_the_command_line_says_the_outcome_once_and_counts_in_words(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    app = typer.Typer()
    app.command()(import_file)
    one = write(tmp_path, "one.csv", "code,name,account_type\nC1,Alpha,ship_to\n")
    ok = await asyncio.to_thread(
        CliRunner().invoke, app, ["customers", str(one), "--tenant", tenant.slug]
    )
    assert ok.exit_code == 0, ok.output
    assert "applied: 1 row: 1 new, 0 changed, 0 unchanged" in ok.output
    bad = write(tmp_path, "bad.csv", "code,name,account_type\nC2,Beta,moon\n")
    refused = await asyncio.to_thread(
        CliRunner().invoke, app, ["customers", str(bad), "--tenant", tenant.slug]
    )
    assert refused.exit_code == 1
    assert "rejected: 1 problem in 1 row; nothing applied" in refused.output
    assert "rejected rejected" not in refused.output and "(s)" not in refused.output


async def test_a_running_import_beats(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat the sweep reads is written while the import runs (here every 10 ms)."""
    from tierline.masterdata.importing import records

    monkeypatch.setattr(records, "HEARTBEAT_SECONDS", 0.01)
    imported = service._import

    async def once_it_has_beaten(*args: Any) -> Any:
        # A busy machine may finish a small import before the first beat: the import waits
        # (at most 10 s) until its row shows one, so the test does not race the beat.
        import_id = args[5]
        for _ in range(1000):
            async with tenant_session(tenant) as s:
                beaten = await s.scalar(select(Import.heartbeat_at).where(Import.id == import_id))
            if beaten is not None:
                break
            await asyncio.sleep(0.01)
        return await imported(*args)

    monkeypatch.setattr(service, "_import", once_it_has_beaten)
    started = utcnow()
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    assert result.status == "applied"
    async with tenant_session(tenant) as s:
        row = await s.get(Import, result.import_id)
    assert row is not None and row.heartbeat_at is not None and row.heartbeat_at >= started
    assert row.failure_reason is None


def test_uploads_whose_import_never_finished_are_removed_after_a_day(tmp_path: Path) -> None:
    area = tmp_path / "uploads" / "acme"
    area.mkdir(parents=True)
    old, fresh, other = area / "a.upload", area / "b.upload", area / "notes.txt"
    for path in (old, fresh, other):
        path.write_text("order_no,revenue\nSO-1,731947.13\n")
    day_and_a_bit = time.time() - 25 * 3600
    os.utime(old, (day_and_a_bit, day_and_a_bit))
    os.utime(other, (day_and_a_bit, day_and_a_bit))

    assert remove_stale_uploads(tmp_path) == 1

    assert not old.exists() and fresh.exists()  # a waiting upload stays
    assert other.exists()  # only uploads are touched
    assert remove_stale_uploads(tmp_path / "nowhere") == 0
