"""Tenant lifecycle jobs."""

from __future__ import annotations

from typing import Any

from tierline.platform.encryption.store import kms_from_settings
from tierline.platform.jobs import JobRun, job_handler
from tierline.tenants.service import provision_tenant, resume_provisioning

PROVISION = "tenants.provision"


@job_handler(PROVISION)
async def provision(run: JobRun) -> dict[str, Any]:
    """Provision a tenant; a retried run finishes what a crashed one left behind."""
    databases = run.runtime.databases
    slug = str(run.params["slug"])
    if run.attempt > 1:
        resumed = await resume_provisioning(databases, slug)
        if resumed is not None:
            return {"slug": slug, "region": resumed.region, "resumed": True}
    tenant = await provision_tenant(
        databases,
        slug,
        str(run.params["name"]),
        str(run.params["region"]),
        run.progress,
        kms=kms_from_settings(run.runtime.settings),
    )
    return {"slug": tenant.slug, "region": tenant.region, "schema": tenant.schema}
