"""One KPI refresh of a tenant: the stored counts brought up to date, then the alerts
evaluated on them (a second transaction: alerts read what the first committed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from tierline.monitoring.alerts import Evaluation, evaluate_alerts
from tierline.monitoring.store import ComputeOutcome, compute, current_definition, kpi_scheme
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


@dataclass(frozen=True)
class RefreshOutcome:
    computed: ComputeOutcome
    alerts: Evaluation

    def summary(self) -> str:
        c, a = self.computed, self.alerts
        kind = "full computation" if c.full else f"{c.periods} period(s) recomputed"
        return (
            f"{kind} from {c.lines:,} order lines in {c.seconds:.2f} s; alerts: {a.opened} "
            f"opened, {a.resolved} resolved, {a.escalated} escalation step(s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"computed": asdict(self.computed), "alerts": asdict(self.alerts)}


async def refresh(
    runtime: Runtime,
    tenant: TenantRef,
    *,
    full: bool = False,
    since: datetime | None = None,
    as_of: date | None = None,
) -> RefreshOutcome:
    as_of = as_of or datetime.now(UTC).date()
    computed = await compute(runtime, tenant, full=full, since=since, as_of=as_of)
    async with tenant_session(tenant, runtime.databases) as session:
        definition = await current_definition(session)
        scheme = await kpi_scheme(session)
        evaluation = await evaluate_alerts(session, scheme, definition, as_of, tenant.slug)
    return RefreshOutcome(computed, evaluation)
