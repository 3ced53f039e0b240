"""What the API says about a background job."""

from __future__ import annotations

import msgspec


class JobOut(msgspec.Struct, kw_only=True):
    """A job's status and progress; ``error`` is a message for people and ``error_code`` its
    stable name (``internal_error`` when it failed on our side; the details are in the log
    under the job id), both empty unless it failed or is being retried."""

    id: str
    kind: str
    status: str
    progress: float
    message: str
    result: dict[str, object] | None
    error: str | None = None
    error_code: str | None = None
    attempts: int = 0
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class JobStartedOut(msgspec.Struct):
    """A queued job: poll ``status_url`` (``getJob``) until its ``status`` is final."""

    job: JobOut
    status_url: str


def job_started(job: dict[str, object]) -> JobStartedOut:
    """The answer to a request that queued ``job`` (a job row, ``JobStore``'s shape)."""
    return JobStartedOut(job=msgspec.convert(job, JobOut), status_url=f"/api/v1/jobs/{job['id']}")
