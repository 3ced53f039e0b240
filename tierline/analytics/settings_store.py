"""The tenant's analytics choices: read with defaults, changed with validation and an audit
entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.analytics.cost_to_serve.allocation import COST_TYPES, DEFAULT_DRIVERS, DRIVERS
from tierline.analytics.models import AnalyticsSettings
from tierline.platform.errors import DomainError
from tierline.segmentation.service import scheme_infos


class SettingsRefused(DomainError):
    """A setting that cannot be taken as asked (the message says why)."""

    status_code = 422
    title = "Analysis refused"


@dataclass(frozen=True)
class Choices:
    """The scheme the figures follow (None: none published), the driver of each cost type and
    the months without an order after which a customer counts as churned."""

    scheme_code: str | None
    drivers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DRIVERS))
    churn_periods: int = 3


async def _default_scheme(session: AsyncSession) -> str | None:
    schemes = await scheme_infos(session, entity="customer", published_only=True)
    return schemes[0].code if schemes else None


async def read_choices(session: AsyncSession) -> Choices:
    row = await session.get(AnalyticsSettings, 1)
    if row is None:
        return Choices(await _default_scheme(session))
    return Choices(
        row.scheme_code or await _default_scheme(session),
        {
            "freight": row.freight_driver,
            "handling": row.handling_driver,
            "returns": row.returns_driver,
        },
        row.churn_periods,
    )


async def save_choices(
    session: AsyncSession,
    *,
    scheme_code: str | None,
    drivers: Mapping[str, str],
    churn_periods: int,
    actor: str,
) -> Choices:
    """Store the choices; :class:`SettingsRefused` for an unknown scheme, cost type or driver."""
    for cost_type, driver in drivers.items():
        if cost_type not in COST_TYPES:
            raise SettingsRefused(f"unknown cost type '{cost_type}'")
        if driver not in DRIVERS:
            raise SettingsRefused(
                f"unknown driver '{driver}' for {cost_type}; one of {', '.join(DRIVERS)}"
            )
    if not 1 <= churn_periods <= 24:
        raise SettingsRefused("churn periods must lie between 1 and 24 months")
    if scheme_code is not None:
        codes = {s.code for s in await scheme_infos(session, entity="customer")}
        if scheme_code not in codes:
            raise SettingsRefused(f"no customer scheme '{scheme_code}'")
    merged = {**DEFAULT_DRIVERS, **(await read_choices(session)).drivers, **drivers}
    row = (await session.execute(select(AnalyticsSettings).with_for_update())).scalar()
    if row is None:
        row = AnalyticsSettings(id=1)
        session.add(row)
    row.scheme_code = scheme_code
    row.freight_driver = merged["freight"]
    row.handling_driver = merged["handling"]
    row.returns_driver = merged["returns"]
    row.churn_periods = churn_periods
    row.updated_by = actor
    await session.flush()
    return await read_choices(session)
