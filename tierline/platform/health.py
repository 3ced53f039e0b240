"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from tierline.platform import metrics
from tierline.platform.access import METRICS, PUBLIC, requires
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


# What this process cannot serve anything without; a region or the job worker being down only
# degrades it (that region's tenants get 503s, jobs wait), and the process stays in rotation.
ESSENTIAL = ("control", "redis")


@get("/ready", guards=[requires(PUBLIC)], operation_id="ready", tags=["operations"])
async def ready(state: State) -> Response[dict[str, Any]]:
    """Whether this process can serve: 200 while the control database and Redis answer, with
    each region's database and the in-process job worker (when this process runs one) listed
    as ``ok`` or ``unavailable`` with the reason (the status then says ``degraded``: requests for
    a failed region's tenants get 503, the others are served). 503 when the control database
    or Redis is down: nothing can be served."""
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
    serving = all(components[name]["status"] == "ok" for name in ESSENTIAL)
    everything = all(r is None for r in reasons)
    status = "ready" if everything else ("degraded" if serving else "unavailable")
    return Response(
        {"status": status, "components": components}, status_code=200 if serving else 503
    )


@get(
    "/metrics",
    guards=[requires(METRICS)],
    operation_id="metrics",
    include_in_schema=False,
    media_type="text/plain; version=0.0.4",
)
async def metrics_endpoint(state: State) -> Response[bytes]:
    """Prometheus metrics (bearer ``TIERLINE_METRICS_TOKEN``, else the operator token)."""
    body = await metrics.scrape(state.runtime)
    return Response(body, media_type="text/plain; version=0.0.4")
