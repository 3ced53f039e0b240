"""Prometheus metrics: what the web process and its jobs are doing, for the operator's scraper.

Recorded as they happen: requests per route template (count by status, latency histogram),
unhandled errors, jobs per kind (count by outcome, duration). Read when scraped: the job queue's
depth, the e-mail outbox backlog per region, each database pool's connections in use, and the
hit rates of the caches that registered (sessions, tenant directory, portal answers).

``/metrics`` is not public: it takes ``TIERLINE_METRICS_TOKEN`` (else the operator token) as a
bearer token, as Prometheus' ``authorization`` setting sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

REGISTRY = CollectorRegistry(auto_describe=True)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUESTS = Counter(
    "tierline_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "tierline_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "route"),
    buckets=_SECONDS,
    registry=REGISTRY,
)
UNHANDLED = Counter(
    "tierline_http_unhandled_errors",
    "Requests that failed on an unexpected error (answered 500; the log has the details).",
    registry=REGISTRY,
)
JOBS = Counter(
    "tierline_jobs",
    "Job attempts finished, by kind and outcome (succeeded, failed, retrying).",
    ("kind", "outcome"),
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "tierline_job_duration_seconds",
    "How long job attempts ran, by kind.",
    ("kind",),
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("tierline_job_queue_depth", "Jobs waiting in the queue.", registry=REGISTRY)
OUTBOX_BACKLOG = Gauge(
    "tierline_email_outbox_backlog",
    "E-mails waiting in the tenants' outboxes, by region.",
    ("region",),
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "tierline_db_pool_connections_in_use",
    "Database connections checked out of the pool, by database (control or region).",
    ("database",),
    registry=REGISTRY,
)
POOL_SIZE = Gauge(
    "tierline_db_pool_size",
    "Connections the pool keeps open (its size), by database.",
    ("database",),
    registry=REGISTRY,
)

# Route label children, memoised: ``labels()`` costs a lock and a dict lookup per call.
_request_children: dict[tuple[str, str, int], Any] = {}
_latency_children: dict[tuple[str, str], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one answered request (``route`` is the template, e.g. ``/t/{tenant:str}/…``)."""
    key = (method, route, status)
    child = _request_children.get(key)
    if child is None:
        child = _request_children.setdefault(key, REQUESTS.labels(method, route, str(status)))
    child.inc()
    latency = _latency_children.get((method, route))
    if latency is None:
        latency = _latency_children.setdefault((method, route), LATENCY.labels(method, route))
    latency.observe(seconds)


def observe_job(kind: str, outcome: str, seconds: float) -> None:
    JOBS.labels(kind, outcome).inc()
    JOB_SECONDS.labels(kind).observe(seconds)


class CountsHits(Protocol):
    hits: int
    misses: int


class _CacheCollector(Collector):
    """Hit and miss counts of the caches that registered, read when scraped (summed over the
    caches of one name: a process embedding several apps has one per app)."""

    def __init__(self) -> None:
        self.caches: dict[str, list[CountsHits]] = {}

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "tierline_cache_lookups",
            "Cache lookups, by cache and result.",
            labels=("cache", "result"),
        )
        for name, caches in sorted(self.caches.items()):
            family.add_metric([name, "hit"], sum(c.hits for c in caches))
            family.add_metric([name, "miss"], sum(c.misses for c in caches))
        yield family


_caches = _CacheCollector()
REGISTRY.register(_caches)


def register_cache(name: str, cache: CountsHits) -> None:
    """Report ``cache``'s ``hits``/``misses`` under ``name``."""
    found = _caches.caches.setdefault(name, [])
    if not any(c is cache for c in found):
        found.append(cache)


def unregister_cache(name: str, cache: CountsHits) -> None:
    """Stop reporting ``cache`` (its app stopped)."""
    _caches.caches[name] = [c for c in _caches.caches.get(name, []) if c is not cache]


_OUTBOX_EVERY = 30.0  # seconds between outbox counts: they read every tenant schema
_outbox_read_at = 0.0


async def _refresh_outbox(runtime: Any) -> None:
    """Pending e-mails per region: one statement per region over its tenant schemas."""
    global _outbox_read_at
    if time.monotonic() - _outbox_read_at < _OUTBOX_EVERY:
        return
    _outbox_read_at = time.monotonic()
    for region, engine in runtime.databases.regions.items():
        try:
            async with engine.connect() as conn:
                schemas = [
                    row[0]
                    for row in await conn.execute(
                        text(
                            "SELECT table_schema FROM information_schema.tables "
                            "WHERE table_name = 'email_outbox' AND table_schema LIKE 't\\_%'"
                        )
                    )
                ]
                total = 0
                for start in range(0, len(schemas), 200):
                    union = " UNION ALL ".join(
                        f"SELECT count(*) AS n FROM \"{s}\".email_outbox WHERE status = 'pending'"
                        for s in schemas[start : start + 200]
                    )
                    found = await conn.execute(text(f"SELECT sum(n) FROM ({union}) c"))
                    total += int(found.scalar() or 0)
            OUTBOX_BACKLOG.labels(region).set(total)
        except Exception:  # a region that is down reports no figure (its readiness says why)
            with contextlib.suppress(KeyError):
                OUTBOX_BACKLOG.remove(region)


async def scrape(runtime: Any) -> bytes:
    """The metrics in Prometheus' text format, with the gauges read now."""
    databases = runtime.databases
    for name, engine in [("control", databases.control), *databases.regions.items()]:
        pool = engine.pool
        POOL_IN_USE.labels(name).set(getattr(pool, "checkedout", lambda: 0)())
        POOL_SIZE.labels(name).set(getattr(pool, "size", lambda: 0)())
    # Redis down: /ready says so, and the last figure stays.
    with contextlib.suppress(Exception):
        queue = await runtime.queue()
        async with asyncio.timeout(2):
            QUEUE_DEPTH.set(await queue.zcard(runtime.settings.queue_name))
    await _refresh_outbox(runtime)
    return generate_latest(REGISTRY)
