"""Escalation paths per segment: who is told, in which order, after how many periods below target.

A path is an ordered list of steps. Step ``n`` fires once a segment's KPI has been below its
entitlement for ``after_periods`` consecutive weeks or months; later steps wait at least as long
as earlier ones. ``notify`` is an e-mail address or ``role:<role>`` (every holder of a staff
role). Saving replaces the whole path at once (audited); KPI alerts read it later.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.audit.service import ActingParty, record_by
from tierline.platform.errors import DomainError
from tierline.platform.identity.users import UserError, normalize_email
from tierline.policies.default_policy import ROLES
from tierline.segmentation.service import published_segments
from tierline.service_levels.levels import FieldError
from tierline.service_levels.models import CHANNELS, PERIODS, EscalationStep

MAX_STEPS = 10
STAFF_ROLES = tuple(name for name in ROLES if name != "customer")


class StepInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    step: int
    notify: str
    after_periods: int
    period: str = "week"
    channel: str = "in_app"


class EscalationInvalid(DomainError):
    status_code = 422
    title = "Escalation path refused"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def normalize_notify(raw: str) -> str:
    """``role:<staff role>`` or a normalised e-mail address; ValueError otherwise."""
    value = raw.strip()
    if value.lower().startswith("role:"):
        role = value[5:].strip().lower()
        if role not in STAFF_ROLES:
            raise ValueError(f"unknown role '{role}' (choose: {', '.join(STAFF_ROLES)})")
        return f"role:{role}"
    try:
        return normalize_email(value)
    except UserError:
        raise ValueError(f"'{value}' is neither an e-mail address nor role:<role>") from None


def step_errors(steps: list[StepInput]) -> list[FieldError]:
    """Problems with the path as a whole and with each step (pure)."""
    errors = []
    if len(steps) > MAX_STEPS:
        errors.append(FieldError("steps", f"at most {MAX_STEPS} steps"))
    previous = 0
    for index, step in enumerate(steps, start=1):
        field = f"steps[{index}]"
        if step.step != index:
            errors.append(FieldError(field, f"steps are numbered 1, 2, 3 …; expected {index}"))
        try:
            normalize_notify(step.notify)
        except ValueError as exc:
            errors.append(FieldError(f"{field}.notify", str(exc)))
        if step.after_periods < 1:
            errors.append(FieldError(f"{field}.after_periods", "must be 1 or more"))
        elif step.after_periods < previous:
            errors.append(
                FieldError(
                    f"{field}.after_periods",
                    f"must not be shorter than the step before ({previous})",
                )
            )
        previous = max(previous, step.after_periods)
        if step.period not in PERIODS:
            errors.append(FieldError(f"{field}.period", f"one of {', '.join(PERIODS)}"))
        if step.channel not in CHANNELS:
            errors.append(FieldError(f"{field}.channel", f"one of {', '.join(CHANNELS)}"))
    return errors


def step_dict(step: EscalationStep) -> dict[str, Any]:
    return {
        "step": step.step,
        "notify": step.notify,
        "after_periods": step.after_periods,
        "period": step.period,
        "channel": step.channel,
    }


async def get_escalation(
    session: AsyncSession, scheme_code: str, segment_code: str
) -> list[EscalationStep]:
    rows = await session.execute(
        select(EscalationStep)
        .where(
            EscalationStep.scheme_code == scheme_code,
            EscalationStep.segment_code == segment_code,
        )
        .order_by(EscalationStep.step)
    )
    return list(rows.scalars())


async def save_escalation(
    session: AsyncSession,
    scheme_code: str,
    segment_code: str,
    steps: list[StepInput],
    actor: ActingParty,
) -> list[EscalationStep]:
    """Replace the segment's path with ``steps`` (an empty list clears it); audited."""
    segments = await published_segments(session, scheme_code)
    if segments is None:
        raise EscalationInvalid(
            [FieldError("scheme_code", f"scheme '{scheme_code}' has no published version")]
        )
    if segment_code not in {s.code for s in segments}:
        raise EscalationInvalid(
            [FieldError("segment_code", f"'{segment_code}' is not a segment of {scheme_code}")]
        )
    errors = step_errors(steps)
    if errors:
        raise EscalationInvalid(errors)
    before = [step_dict(s) for s in await get_escalation(session, scheme_code, segment_code)]
    await session.execute(
        delete(EscalationStep).where(
            EscalationStep.scheme_code == scheme_code,
            EscalationStep.segment_code == segment_code,
        )
    )
    rows = [
        EscalationStep(
            scheme_code=scheme_code,
            segment_code=segment_code,
            step=s.step,
            notify=normalize_notify(s.notify),
            after_periods=s.after_periods,
            period=s.period,
            channel=s.channel,
            updated_by=actor.name,
        )
        for s in steps
    ]
    session.add_all(rows)
    await session.flush()
    await record_by(
        session,
        actor,
        "escalation.save",
        "escalation_path",
        f"{scheme_code}/{segment_code}",
        before={"steps": before},
        after={"steps": [step_dict(r) for r in rows]},
    )
    return rows
