"""What monitoring adds to other domains' work: an applied import of order lines queues the
KPI update of the periods it touched (listed in this package's plugin, so it is registered
wherever an import can run: the worker, the web app, the CLI)."""

from __future__ import annotations

from tierline.masterdata.service import IMPORT_APPLIED, LinesImported
from tierline.monitoring.jobs import queue_kpi_update
from tierline.platform.runtime import Runtime


@IMPORT_APPLIED.register
async def update_kpis_after_import(runtime: Runtime, applied: LinesImported) -> None:
    if applied.written:
        await queue_kpi_update(
            runtime, applied.tenant, since=applied.began, key=str(applied.import_id)
        )
