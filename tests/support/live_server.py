"""The real server in a subprocess (``tierline serve`` under uvicorn) for the tests that need
one over a socket: the browser tests and the generated API client's smoke test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(queue: str = "tierline:e2e") -> Iterator[str]:
    """``tierline serve --worker`` on a free port, sharing the session's embedded servers
    (the environment the test harness set); yields its base URL. Its worker takes jobs from
    ``queue`` only, never those the tests run themselves."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tierline", "serve", "--port", str(port), "--worker"],
        env={**os.environ, "TIERLINE_QUEUE_NAME": queue},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        time.sleep(0.2)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
