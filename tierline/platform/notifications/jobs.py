"""Mail delivery as work for the worker: a per-tenant job kind and the every-minute cron."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from tierline.platform.jobs.registry import JobRun, job_handler, periodic
from tierline.platform.notifications.delivery import (
    DeliveryReport,
    deliver_all,
    deliver_tenant,
    tenants_with_due_mail,
)
from tierline.platform.notifications.mailer import Mailer
from tierline.platform.runtime import Runtime
from tierline.platform.settings import Settings
from tierline.platform.tenancy import TenantNotFound, TenantRef

DELIVER_KIND = "notifications.deliver"
log = logging.getLogger(__name__)


def mailer_for(settings: Settings) -> Mailer | None:
    return Mailer.from_settings(settings.smtp_url, settings.mail_from)


@job_handler(DELIVER_KIND)
async def deliver_job(run: JobRun) -> dict[str, Any]:
    """Deliver one tenant's due mail now (the cron does the same for all tenants)."""
    if run.tenant is None:
        raise ValueError("mail delivery needs a tenant")
    mailer = mailer_for(run.runtime.settings)
    if mailer is None:
        return {"email": "not configured", **asdict(DeliveryReport())}
    report = await deliver_tenant(
        run.tenant, mailer, run.runtime.settings.base_url, run.runtime.databases
    )
    return {"email": "configured", **asdict(report)}


async def deliver_due_mail(runtime: Runtime, settings: Settings | None = None) -> DeliveryReport:
    """Every active tenant in every region: find the ones with due mail, deliver it."""
    from tierline.platform.tenant_directory import TenantDirectory, list_tenants

    settings = settings or runtime.settings
    mailer = mailer_for(settings)
    if mailer is None:  # e-mail off: rows stay pending, nothing is lost
        return DeliveryReport()
    active = [t for t in await list_tenants(runtime.databases) if t.status == "active"]
    if not active:
        return DeliveryReport()
    directory = TenantDirectory(runtime.databases, ttl_seconds=0)
    refs: list[TenantRef] = []
    for info in await tenants_with_due_mail(runtime.databases, active):
        try:
            refs.append(await directory.get(info.slug))
        except TenantNotFound:
            continue
    return await deliver_all(runtime.databases, refs, mailer, settings.base_url)


@periodic(second=41)
async def deliver_notifications(ctx: dict[str, Any]) -> int:
    """Every minute in the worker: returns messages sent."""
    report = await deliver_due_mail(ctx["runtime"])
    if report.sent or report.failed or report.server_unreachable:
        log.info(
            "mail delivery: %s sent, %s retrying, %s failed%s",
            report.sent,
            report.retrying,
            report.failed,
            " (server unreachable)" if report.server_unreachable else "",
        )
    return report.sent
