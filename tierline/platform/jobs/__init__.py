"""Background jobs on arq: deterministic ids, status rows, progress and retries (DESIGN.md §7)."""

from tierline.platform.jobs.registry import JobRun, job_handler
from tierline.platform.jobs.service import (
    JobNotFound,
    get_control_job,
    get_tenant_job,
    job_id_for,
    submit_control_job,
    submit_tenant_job,
)

__all__ = [
    "JobNotFound",
    "JobRun",
    "get_control_job",
    "get_tenant_job",
    "job_handler",
    "job_id_for",
    "submit_control_job",
    "submit_tenant_job",
]
