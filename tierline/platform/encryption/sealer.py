"""A helper process for sealing large batches of float values.

One AES-GCM call per value (DESIGN.md §5) holds the interpreter lock for a microsecond or so,
and a bulk import makes millions of them: in the importing process they would hold up its
other threads (validation, serialisation, the event loop feeding ``COPY``). In a helper
process they only compete for a core.

The helper is ``python -m tierline.platform.encryption.sealer``, started on first use with a
socket pair as its only channel (a plain child process rather than ``multiprocessing``, which
would import the parent's main module again in the child). It serves every batch of this
process in turn, in order, and ends when this process closes its end. The data key travels
with each batch and is not kept. If the helper cannot start or dies, batches are sealed in
this process instead, and a new helper is tried for the next import.
"""

from __future__ import annotations

import atexit
import itertools
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection, Pipe
from typing import Any

import numpy as np
import numpy.typing as npt

from .codec import FloatSealing, RowKeys, seal_floats

_Args = tuple[FloatSealing, dict[str, npt.NDArray[np.float64]], RowKeys]


class HelperGone(RuntimeError):
    """The helper process ended (or never started); the batch is sealed here instead."""


class _Helper:
    """One helper process. Batches are queued and written to the socket by a sender thread
    (a large batch fills the socket while the helper is busy: the caller does not wait for
    that); results come back in order and a reader thread hands them to their futures."""

    def __init__(self) -> None:
        ours, theirs = Pipe(duplex=True)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._conn = ours
        self._lock = threading.Lock()  # guards alive and _pending
        self._pending: dict[int, Future[dict[str, bytes]]] = {}
        self._outbox: queue.SimpleQueue[tuple[int, _Args] | None] = queue.SimpleQueue()
        self._ids = itertools.count()
        self.alive = True
        self.answered = 0  # batches sealed: a helper that ends before any is not restarted soon
        self.ended_at: float | None = None
        threading.Thread(target=self._write, name="sealer-batches", daemon=True).start()
        threading.Thread(target=self._read, name="sealer-results", daemon=True).start()

    def submit(self, args: _Args) -> Future[dict[str, bytes]]:
        future: Future[dict[str, bytes]] = Future()
        with self._lock:
            if not self.alive:
                raise HelperGone("the sealing helper has ended")
            job = next(self._ids)
            self._pending[job] = future
        self._outbox.put((job, args))
        return future

    def close(self) -> None:
        """Ask the helper to end once it has answered the batches queued before."""
        self._outbox.put(None)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._end()

    def _write(self) -> None:
        try:
            while True:
                item = self._outbox.get()
                self._conn.send(item)  # None: the helper's cue to end
                if item is None:
                    return
        except (OSError, TypeError):  # TypeError: the connection was closed under us
            self._end()

    def _read(self) -> None:
        try:
            while True:
                job, result = self._conn.recv()
                with self._lock:
                    future = self._pending.pop(job)
                    self.answered += 1
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        except (EOFError, OSError):
            self._end()

    def _end(self) -> None:
        """Mark the helper gone and fail what it still owed."""
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            self.ended_at = time.monotonic()
            owed = list(self._pending.values())
            self._pending.clear()
        for future in owed:
            future.set_exception(HelperGone("the sealing helper has ended"))
        self._outbox.put(None)  # wakes the sender, which then stops
        self._conn.close()
        if self._process.poll() is None:
            self._process.kill()


_lock = threading.Lock()
_helper: _Helper | None = None


# After a helper that never sealed anything ended (it cannot start here, say), batches are
# sealed in this process for this long before another helper is tried.
RETRY_AFTER_SECONDS = 60.0


def _current() -> _Helper | None:
    """The running helper, started if needed; None if it cannot be started."""
    global _helper
    with _lock:
        if _helper is not None and not _helper.alive and _helper.answered == 0:
            ended = _helper.ended_at or 0.0
            if time.monotonic() - ended < RETRY_AFTER_SECONDS:
                return None
        if _helper is None or not _helper.alive:
            try:
                _helper = _Helper()
            except OSError:
                _helper = None
        return _helper


@atexit.register
def stop_helper() -> None:
    """End the helper (at exit, and in tests)."""
    global _helper
    with _lock:
        helper, _helper = _helper, None
    if helper is not None:
        helper.close()


def start_helper() -> None:
    """Start the helper now, so its start-up overlaps other work (it is not waited for)."""
    _current()


class _Sealing:
    """A batch handed to the helper; ``result()`` waits for it (blocking the calling thread,
    not the interpreter lock), or seals it here if the helper is gone."""

    def __init__(self, future: Future[dict[str, bytes]] | None, args: _Args) -> None:
        self._future, self._args = future, args

    def result(self) -> dict[str, bytes]:
        if self._future is not None:
            try:
                return self._future.result()
            except HelperGone:
                pass
        return seal_floats(*self._args)


def submit_seal_floats(
    sealing: FloatSealing,
    columns: Mapping[str, npt.NDArray[np.float64]],
    row_keys: Sequence[str] | RowKeys,
) -> _Sealing:
    """Start :func:`~.codec.seal_floats` in the helper process."""
    keys = row_keys if isinstance(row_keys, RowKeys) else RowKeys.of(row_keys)
    args: _Args = (sealing, dict(columns), keys)
    helper = _current()
    if helper is None:
        return _Sealing(None, args)
    try:
        return _Sealing(helper.submit(args), args)
    except HelperGone:
        return _Sealing(None, args)


def _serve(conn: Connection) -> None:
    """The helper's loop: seal each batch and send it back, until the parent hangs up."""
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        job, args = item
        result: Any
        try:
            result = seal_floats(*args)
        except Exception as exc:  # handed back to the caller, who raises it
            result = exc
        conn.send((job, result))


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
