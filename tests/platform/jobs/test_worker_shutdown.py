"""A worker told to stop (SIGTERM) finishes what it can within its grace period and hands the
rest back: nothing half-done stays, and another worker completes the job. Real worker processes,
real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tierline.platform.jobs import JobRun, get_tenant_job, job_handler, submit_tenant_job
from tierline.platform.notifications.models import Notification
from tierline.platform.notifications.service import notify
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

QUEUE = "tierline:shutdown-test"


@job_handler("tests.slow_write")
async def slow_write(run: JobRun) -> dict[str, Any]:
    """Writes a notification, then waits (while ``block`` exists) before committing both."""
    assert run.tenant is not None
    async with tenant_session(run.tenant) as s:
        await notify(
            s,
            recipients=["marker@example.com"],
            kind="test",
            title="half done",
            body="written before the wait",
            link=None,
            dedupe_key=f"slow:{run.job_id}",
            email=False,
        )
        Path(run.params["started"]).touch()
        for _ in range(int(run.params["seconds"] * 10)):
            if not Path(run.params["block"]).exists():
                break
            await asyncio.sleep(0.1)
    return {"attempt": run.attempt}


WORKER = textwrap.dedent(
    """
    import sys
    from arq.worker import Worker
    import tests.platform.jobs.test_worker_shutdown  # registers tests.slow_write
    from tierline.platform.jobs.worker import worker_kwargs
    from tierline.platform.runtime import build_runtime, install_runtime

    runtime = build_runtime()
    install_runtime(runtime)
    kwargs = worker_kwargs(runtime)
    kwargs["cron_jobs"] = []
    kwargs["poll_delay"] = 0.1
    Worker(**kwargs).run()
    """
)


def start_worker(grace: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TIERLINE_QUEUE_NAME": QUEUE,
        "TIERLINE_WORKER_GRACE_SECONDS": str(grace),
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        await asyncio.sleep(0.1)


async def _markers(tenant: TenantRef) -> int:
    async with tenant_session(tenant) as s:
        found = await s.scalar(
            select(func.count()).where(Notification.recipient_email == "marker@example.com")
        )
    return int(found or 0)


async def _submit(runtime: Runtime, tenant: TenantRef, tmp: Path, seconds: float) -> dict[str, Any]:
    queue_runtime = Runtime(
        settings=_with_queue(runtime), endpoints=runtime.endpoints, databases=runtime.databases
    )
    try:
        return await submit_tenant_job(
            queue_runtime,
            tenant,
            "tests.slow_write",
            {"started": str(tmp / "started"), "block": str(tmp / "block"), "seconds": seconds},
            key=str(tmp),
        )
    finally:
        await queue_runtime.close_queue()


def _with_queue(runtime: Runtime) -> Any:
    import dataclasses

    return dataclasses.replace(runtime.settings, queue_name=QUEUE)


async def _stop(worker: subprocess.Popen[bytes], seconds: float) -> int:
    worker.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(worker.wait, seconds)


async def test_a_job_that_finishes_within_the_grace_period_completes(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    (tmp_path / "block").touch()
    job = await _submit(runtime, tenant, tmp_path, seconds=2)
    worker = start_worker(grace=20)
    try:
        await _wait_for(tmp_path / "started", 60)
        (tmp_path / "block").unlink()  # the job can finish now, after the signal below
        code = await _stop(worker, 40)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, worker.stderr.read().decode()[-2000:] if worker.stderr else code
    done = await get_tenant_job(runtime, tenant, job["id"])
    assert done["status"] == "succeeded" and done["result"] == {"attempt": 1}
    assert await _markers(tenant) == 1


async def test_a_job_past_the_grace_period_is_handed_back_and_resumed_elsewhere(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    (tmp_path / "block").touch()
    job = await _submit(runtime, tenant, tmp_path, seconds=120)
    first = start_worker(grace=1)
    try:
        await _wait_for(tmp_path / "started", 60)
        assert await _stop(first, 40) == 0
    finally:
        if first.poll() is None:
            first.kill()
    handed = await get_tenant_job(runtime, tenant, job["id"])
    assert handed["status"] == "queued" and "handed back" in handed["message"], handed
    assert handed["attempts"] == 0  # the interrupted attempt does not count
    assert await _markers(tenant) == 0  # its transaction rolled back: nothing half-done

    (tmp_path / "block").unlink()
    (tmp_path / "started").unlink()
    second = start_worker(grace=20)
    try:
        await _wait_for(tmp_path / "started", 60)
        deadline = time.monotonic() + 60
        while (await get_tenant_job(runtime, tenant, job["id"]))["status"] != "succeeded":
            assert time.monotonic() < deadline, "the job was not resumed"
            await asyncio.sleep(0.2)
    finally:
        await _stop(second, 40)
    assert await _markers(tenant) == 1
