"""Packs kept and their subscribers: a made pack is stored with both files sealed under the
tenant's data key (bound to the run id); reading one back opens them. Subscribers are told
by e-mail through the outbox, with a link and a line without money (the files stay behind the
sign-in, where masking applies to whoever opens them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.models import ReportRun, ReportSubscription
from tierline.analytics.sop.pack import Pack
from tierline.platform.encryption.codec import FieldCodec
from tierline.platform.notifications.service import queue_email

REPORT = "sop_pack"


@dataclass(frozen=True)
class RunInfo:
    id: uuid.UUID
    month: date
    trigger: str
    requested_by: str | None
    created_at: datetime
    summary: str


def _info(row: ReportRun) -> RunInfo:
    return RunInfo(row.id, row.month, row.trigger, row.requested_by, row.created_at, row.summary)


def _cell(kind: str, run_id: uuid.UUID) -> dict[str, str]:
    return {"table": "report_runs", "column": kind, "row_key": str(run_id)}


async def keep_pack(
    session: AsyncSession, codec: FieldCodec, pack: Pack, trigger: str, requested_by: str | None
) -> RunInfo | None:
    """Store ``pack`` (unmasked, tenant-wide) sealed; a scheduled pack of a month already
    made is not stored again (None)."""
    run_id = uuid.uuid4()
    statement = (
        pg_insert(ReportRun)
        .values(
            id=run_id,
            report=REPORT,
            month=pack.month,
            trigger=trigger,
            requested_by=requested_by,
            summary=pack.summary,
            xlsx_enc=codec.encrypt(pack.xlsx, **_cell("xlsx", run_id)),
            pdf_enc=codec.encrypt(pack.pdf, **_cell("pdf", run_id)),
        )
        .on_conflict_do_nothing(
            index_elements=["report", "month"], index_where=ReportRun.trigger == "schedule"
        )
        .returning(ReportRun.id)
    )
    if (await session.execute(statement)).first() is None:
        return None
    row = await session.get(ReportRun, run_id)
    assert row is not None
    return _info(row)


async def scheduled_made(session: AsyncSession, month: date) -> bool:
    """Whether the schedule already made the pack of ``month``."""
    found = await session.execute(
        select(ReportRun.id).where(
            ReportRun.report == REPORT, ReportRun.month == month, ReportRun.trigger == "schedule"
        )
    )
    return found.first() is not None


async def list_runs(session: AsyncSession, limit: int = 100) -> list[RunInfo]:
    rows = await session.execute(
        select(ReportRun)
        .where(ReportRun.report == REPORT)
        .order_by(ReportRun.created_at.desc(), ReportRun.id)
        .limit(limit)
    )
    return [_info(r) for r in rows.scalars()]


async def run_file(
    session: AsyncSession, codec: FieldCodec, run_id: uuid.UUID, kind: str
) -> tuple[RunInfo, bytes] | None:
    """A kept pack's ``xlsx`` or ``pdf``, opened; None when there is no such run."""
    row = await session.get(ReportRun, run_id)
    if row is None or row.report != REPORT:
        return None
    blob = row.xlsx_enc if kind == "xlsx" else row.pdf_enc
    value = codec.decrypt(blob, **_cell(kind, run_id))
    assert isinstance(value, bytes)
    return _info(row), value


async def subscribers(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(ReportSubscription.email).where(ReportSubscription.report == REPORT)
    )
    return sorted(rows.scalars())


async def subscribe(session: AsyncSession, email: str, on: bool) -> None:
    if on:
        await session.execute(
            pg_insert(ReportSubscription)
            .values(email=email, report=REPORT)
            .on_conflict_do_nothing(index_elements=["email", "report"])
        )
    else:
        await session.execute(
            delete(ReportSubscription).where(
                ReportSubscription.email == email, ReportSubscription.report == REPORT
            )
        )


async def tell_subscribers(session: AsyncSession, run: RunInfo, link: str) -> int:
    """One e-mail per subscriber (deduplicated per run): the month, the line without money
    and where to open the pack. How many were queued."""
    queued = 0
    for email in await subscribers(session):
        queued += await queue_email(
            session,
            to=email,
            subject=f"S&OP pack {run.month:%B %Y}",
            body=(
                f"The S&OP pack of {run.month:%B %Y} is ready.\n\n{run.summary}.\n\n"
                f"Open it (sign-in required; figures shown as your role allows): {link}\n"
            ),
            dedupe_key=f"sop_pack:{run.id}:{email}",
        )
    return queued
