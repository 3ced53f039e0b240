"""Submitting jobs and reading their status.

A job's row is written before it is handed to Redis, so the row is the outbox: if Redis is
down the request is not lost, and the worker's sweeper enqueues it later. Job ids are
deterministic (kind, scope and a caller-supplied key), so submitting the same work twice
yields one job, and arq's ``_job_id`` refuses a second copy in the queue.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from redis.exceptions import RedisError

from tierline.platform.jobs.store import JobStore
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

ENTRYPOINT = "tierline.run_job"
log = logging.getLogger(__name__)


class JobNotFound(LookupError):
    pass


def job_id_for(kind: str, scope: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"{kind}:{scope}:{digest}"


async def enqueue(runtime: Runtime, store: JobStore, job_id: str, tenant: TenantRef | None) -> bool:
    """Hand a queued job to Redis; False (and the row stays queued) when Redis is down."""
    try:
        queue = await runtime.queue()
        await queue.enqueue_job(
            ENTRYPOINT,
            tenant.slug if tenant else None,
            job_id,
            _job_id=job_id,
            _queue_name=runtime.settings.queue_name,
        )
    except (OSError, TimeoutError, RedisError) as exc:
        log.warning("job %s stays in the outbox, Redis unreachable: %s", job_id, exc)
        return False
    await store.mark_enqueued(job_id)
    return True


async def _submit(
    runtime: Runtime,
    tenant: TenantRef | None,
    kind: str,
    params: dict[str, Any],
    key: str,
    created_by: str | None,
) -> dict[str, Any]:
    scope = tenant.slug if tenant else "platform"
    job_id = job_id_for(kind, scope, key)
    store = JobStore.for_scope(runtime, tenant)
    row, needs_enqueue = await store.create(job_id, kind, params, created_by)
    if needs_enqueue:
        await enqueue(runtime, store, job_id, tenant)
    return row


async def submit_control_job(
    runtime: Runtime, kind: str, params: dict[str, Any], key: str, created_by: str | None = None
) -> dict[str, Any]:
    return await _submit(runtime, None, kind, params, key, created_by)


async def submit_tenant_job(
    runtime: Runtime,
    tenant: TenantRef,
    kind: str,
    params: dict[str, Any],
    key: str,
    created_by: str | None = None,
) -> dict[str, Any]:
    return await _submit(runtime, tenant, kind, params, key, created_by)


async def get_control_job(runtime: Runtime, job_id: str) -> dict[str, Any]:
    row = await JobStore.for_scope(runtime, None).get(job_id)
    if row is None:
        raise JobNotFound(job_id)
    return row


async def get_tenant_job(runtime: Runtime, tenant: TenantRef, job_id: str) -> dict[str, Any]:
    row = await JobStore.for_scope(runtime, tenant).get(job_id)
    if row is None:
        raise JobNotFound(job_id)
    return row
