"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from tierline.platform.access import PUBLIC, requires
from tierline.platform.databases import ping
from tierline.platform.runtime import Runtime


@get("/health", guards=[requires(PUBLIC)], operation_id="health", tags=["operations"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _redis_reason(runtime: Runtime) -> str | None:
    try:
        queue = await runtime.queue()
        async with asyncio.timeout(3):
            await queue.ping()
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@get("/ready", guards=[requires(PUBLIC)], operation_id="ready", tags=["operations"])
async def ready(state: State) -> Response[dict[str, Any]]:
    """Every database (control and each region) and Redis answer, and the in-process job worker
    (when this process runs one) polls its queue; 503 names what does not."""
    runtime: Runtime = state.runtime
    names = ["control", *(f"region:{r}" for r in runtime.databases.region_names), "redis"]
    checks = [
        ping(runtime.databases.control),
        *(ping(runtime.databases.regions[r]) for r in runtime.databases.region_names),
        _redis_reason(runtime),
    ]
    reasons = list(await asyncio.gather(*checks))
    supervisor = state.get("worker_supervisor")
    if supervisor is not None:  # this process runs the job worker (embedded ``serve``)
        worker = supervisor.health()
        names.append("worker")
        reasons.append(None if worker.running else worker.detail)
    components = {
        name: {"status": "ok"} if reason is None else {"status": "unavailable", "reason": reason}
        for name, reason in zip(names, reasons, strict=True)
    }
    ok = all(r is None for r in reasons)
    return Response(
        {"status": "ready" if ok else "degraded", "components": components},
        status_code=200 if ok else 503,
    )
