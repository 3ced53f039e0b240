"""Draining the e-mail outbox: claim due rows, send them, record the outcome.

A worker claims a batch with ``FOR UPDATE SKIP LOCKED`` and, in that same short transaction,
pushes the rows' ``next_attempt_at`` out by a lease, so a second worker (or the next cron run)
skips them while they are being sent, and no database transaction stays open during SMTP. Then
each row becomes ``sent``, or its ``attempts`` grows and ``next_attempt_at`` backs off
exponentially (1, 2, 4 … minutes, at most 6 hours); after ``MAX_ATTEMPTS`` (or a permanent
refusal) it is ``failed``. A worker that dies mid-batch leaves the rows pending: the lease
expires and they are sent again (at least once, never lost).

Finding work is cheap: one catalog query per region names the schemas that have the outbox,
then one index probe per schema on one connection asks whether anything is due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Text,
    any_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import ReturningUpdate

from tierline.platform.databases import Databases
from tierline.platform.db import schema_for
from tierline.platform.notifications.mailer import Mailer, OutgoingMail, SendOutcome, send_all
from tierline.platform.notifications.models import EmailOutbox, Notification
from tierline.platform.tenancy import TenantRef, tenant_connection

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 50
MAX_BATCHES_PER_TENANT = 20
LEASE = timedelta(minutes=10)
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 6 * 3600
_SECOND: ColumnElement[Any] = literal_column("interval '1 second'")


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    server_unreachable: bool = False

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.server_unreachable = self.server_unreachable or other.server_unreachable


def retry_delay(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th failed attempt (Python mirror of SQL)."""
    return timedelta(
        seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_RETRY_SECONDS)
    )


def _body_with_link(body: str, link: str | None, base_url: str) -> str:
    if not link:
        return body
    return f"{body}\n\n{urljoin(base_url.rstrip('/') + '/', link.lstrip('/'))}\n"


async def claim_due(
    tenant: TenantRef, databases: Databases | None, base_url: str, limit: int = BATCH_SIZE
) -> list[OutgoingMail]:
    """Lease up to ``limit`` due rows to this worker and return them ready to send."""
    due = (
        select(EmailOutbox.id)
        .where(EmailOutbox.status == "pending", EmailOutbox.next_attempt_at <= func.now())
        .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease = (
        update(EmailOutbox)
        .where(EmailOutbox.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=func.now() + LEASE.total_seconds() * _SECOND)
        .returning(
            EmailOutbox.id,
            EmailOutbox.to_address,
            EmailOutbox.subject,
            EmailOutbox.body,
            EmailOutbox.notification_id,
        )
    )
    async with tenant_connection(tenant, databases) as conn:
        rows = sorted((await conn.execute(lease)).all(), key=lambda r: r.id)
        linked = [r.notification_id for r in rows if r.notification_id is not None]
        links: dict[int, str | None] = {}
        if linked:
            found = await conn.execute(
                select(Notification.id, Notification.link).where(Notification.id.in_(linked))
            )
            links = {i: link for i, link in found.all()}
    return [
        OutgoingMail(
            r.id,
            r.to_address,
            r.subject,
            _body_with_link(r.body, links.get(r.notification_id or 0), base_url),
        )
        for r in rows
    ]


async def record_outcomes(
    tenant: TenantRef, databases: Databases | None, outcomes: Sequence[SendOutcome]
) -> DeliveryReport:
    """Write what happened to each leased row (two set-based statements)."""
    report = DeliveryReport()
    sent = [o.outbox_id for o in outcomes if o.sent]
    failed = [o for o in outcomes if not o.sent]
    async with tenant_connection(tenant, databases) as conn:
        if sent:
            await conn.execute(
                update(EmailOutbox)
                .where(
                    EmailOutbox.id == any_(bindparam("sent", sent, type_=ARRAY(BigInteger))),
                    EmailOutbox.status == "pending",
                )
                .values(
                    status="sent",
                    sent_at=func.now(),
                    attempts=EmailOutbox.attempts + 1,
                    last_error=None,
                )
            )
            report.sent = len(sent)
        if failed:
            statuses = (await conn.execute(_failure_update(failed))).scalars().all()
            report.failed = sum(1 for s in statuses if s == "failed")
            report.retrying = len(statuses) - report.failed
    report.server_unreachable = any(o.unreachable for o in failed)
    return report


def _failure_update(failed: list[SendOutcome]) -> ReturningUpdate[str]:
    src = (
        func.unnest(
            bindparam("ids", [o.outbox_id for o in failed], type_=ARRAY(BigInteger)),
            bindparam("errors", [o.error or "" for o in failed], type_=ARRAY(Text)),
            bindparam("permanent", [o.permanent for o in failed], type_=ARRAY(Boolean)),
        )
        .table_valued(column("id", BigInteger), column("error", Text), column("permanent", Boolean))
        .render_derived(name="outcome")
    )
    # In SET, column references read the old row: attempts is the count before this one.
    delay = func.least(
        FIRST_RETRY_SECONDS * func.power(2, EmailOutbox.attempts), LONGEST_RETRY_SECONDS
    )
    return (
        update(EmailOutbox)
        .where(EmailOutbox.id == src.c.id, EmailOutbox.status == "pending")
        .values(
            attempts=EmailOutbox.attempts + 1,
            last_error=func.left(src.c.error, 1000),
            status=case(
                (
                    or_(src.c.permanent, EmailOutbox.attempts + 1 >= MAX_ATTEMPTS),
                    "failed",
                ),
                else_="pending",
            ),
            next_attempt_at=func.now() + delay * _SECOND,
        )
        .returning(EmailOutbox.status)
    )


async def deliver_tenant(
    tenant: TenantRef,
    mailer: Mailer,
    base_url: str,
    databases: Databases | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES_PER_TENANT,
) -> DeliveryReport:
    """Send the tenant's due mail, batch by batch; stops early when the server is down."""
    report = DeliveryReport()
    for _ in range(max_batches):
        mails = await claim_due(tenant, databases, base_url, batch_size)
        if not mails:
            break
        outcomes = await send_all(mailer, mails)
        report.add(await record_outcomes(tenant, databases, outcomes))
        if report.server_unreachable or len(mails) < batch_size:
            break
    return report


# ---------------------------------------------------------------------------------------------
# Finding the tenants with something due


_HAS_OUTBOX = text(
    "SELECT n.nspname FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = 'email_outbox' AND c.relkind = 'r' AND n.nspname = ANY(:schemas)"
).bindparams(bindparam("schemas", type_=ARRAY(Text)))


class SchemaOwner(Protocol):
    """A tenant as the control plane lists it (``TenantInfo``) or as a ``TenantRef``."""

    @property
    def slug(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def schema(self) -> str: ...


Owner = TypeVar("Owner", bound=SchemaOwner)


async def tenants_with_due_mail(databases: Databases, tenants: Iterable[Owner]) -> list[Owner]:
    """The tenants whose outbox has a due pending row: one catalog query per region, then one
    index probe per schema (``ix_email_outbox_due``) on that region's one connection."""
    by_region: dict[str, list[Owner]] = {}
    for tenant in tenants:
        by_region.setdefault(tenant.region, []).append(tenant)
    due: list[Owner] = []
    for region, members in by_region.items():
        try:
            due.extend(await _due_in_region(databases, region, members))
        except Exception:  # one region down must not stop mail for the others
            log.exception("cannot check the e-mail outbox in region %s", region)
    return due


async def _due_in_region(databases: Databases, region: str, members: list[Owner]) -> list[Owner]:
    engine = await databases.verified_region(region)
    due: list[Owner] = []
    async with engine.connect() as conn:
        schemas = {schema_for(t.slug): t for t in members}
        result = await conn.execute(_HAS_OUTBOX, {"schemas": list(schemas)})
        for schema in sorted(set(result.scalars())):  # unmigrated schemas cannot hold mail
            # The schema is derived from a validated slug: quoting is enough.
            probe = text(
                f'SELECT EXISTS (SELECT 1 FROM "{schema}".email_outbox '
                "WHERE status = 'pending' AND next_attempt_at <= now())"
            )
            if (await conn.execute(probe)).scalar():
                due.append(schemas[schema])
        await conn.rollback()
    return due


async def deliver_all(
    databases: Databases, tenants: Iterable[TenantRef], mailer: Mailer, base_url: str
) -> DeliveryReport:
    """Deliver due mail for each of ``tenants`` (found by ``tenants_with_due_mail``); stops when
    the server is unreachable (every row stays pending for the next run)."""
    report = DeliveryReport()
    for tenant in tenants:
        try:
            result = await deliver_tenant(tenant, mailer, base_url, databases)
        except Exception:  # one tenant's trouble (e.g. its region is down) must not stop others
            log.exception("mail delivery for tenant %s failed", tenant.slug)
            continue
        report.add(result)
        if result.server_unreachable:
            log.warning("SMTP server unreachable; outbox rows stay pending for the next run")
            break
    return report
