"""Keeps the in-process job worker alive: restarted with back-off when it dies, its outage and
recovery logged, its state readable by ``/ready``.

arq's worker ends its main loop with an exception when Redis goes away; left alone, the web
process kept answering 202 for work that never ran. The supervisor starts a new worker after a
pause (1 s, doubling to 30 s), says so in the log once per outage, and knows the worker is
healthy by its heartbeat: the worker reports each completed poll of the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arq.worker import Worker

from tierline.platform.runtime import Runtime

log = logging.getLogger(__name__)

FIRST_PAUSE, LONGEST_PAUSE = 1.0, 30.0
STALE_AFTER = 15.0  # seconds without a poll before the worker counts as not running


class SupervisedWorker(Worker):
    """An arq worker that reports each completed poll (its heartbeat)."""

    def __init__(self, *args: Any, on_beat: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_beat = on_beat

    async def heart_beat(self) -> None:
        await super().heart_beat()
        self._on_beat()


@dataclass
class WorkerHealth:
    """What ``/ready`` says about the in-process worker."""

    running: bool
    detail: str


class WorkerSupervisor:
    """Runs the worker until cancelled, restarting it whenever it stops."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.clock = clock
        self.last_beat: float | None = None
        self.down_since: float | None = None
        self.last_error = ""
        self.restarts = 0
        self._worker: SupervisedWorker | None = None

    def _beat(self) -> None:
        if self.down_since is not None:
            log.warning(
                "job worker recovered after %.0f s (restarts: %s)",
                self.clock() - self.down_since,
                self.restarts,
            )
            self.down_since = None
        self.last_beat = self.clock()

    def health(self) -> WorkerHealth:
        if self.last_beat is not None and self.clock() - self.last_beat <= STALE_AFTER:
            return WorkerHealth(True, "running")
        if self.down_since is not None:
            down = self.clock() - self.down_since
            return WorkerHealth(False, f"down for {down:.0f} s: {self.last_error}"[:300])
        return WorkerHealth(False, "not polling the queue")

    def _new_worker(self) -> SupervisedWorker:
        from tierline.platform.jobs.worker import worker_kwargs

        return SupervisedWorker(
            **worker_kwargs(self.runtime, handle_signals=False), on_beat=self._beat
        )

    async def run(self) -> None:
        pause = FIRST_PAUSE
        while True:
            worker = self._worker = self._new_worker()
            try:
                await worker.async_run()
                reason = "the worker stopped"
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.close(), timeout=10)
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.close(), timeout=5)
            if self.down_since is None:
                self.down_since = self.clock()
                log.error("job worker stopped (%s); restarting until it runs again", reason)
            if self.last_beat is not None and self.clock() - self.last_beat < STALE_AFTER:
                pause = FIRST_PAUSE  # it had been running: a fresh outage
            self.last_beat = None
            self.last_error = reason
            self.restarts += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
