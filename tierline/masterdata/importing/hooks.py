"""What an import lets the domains above take part in (re-exported by ``masterdata.service``,
where upper domains register their hooks): after an import of order lines is applied and
committed, each hook hears of it (monitoring recomputes the KPI periods it touched)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tierline.platform.extensions import ExtensionPoint
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


@dataclass(frozen=True)
class LinesImported:
    """An applied import of ``entity`` (``order_lines``) that began at ``began``: every row it
    wrote has ``updated_at`` at or after that moment."""

    tenant: TenantRef
    import_id: uuid.UUID
    entity: str
    began: datetime
    written: int


ImportApplied = Callable[[Runtime, LinesImported], Awaitable[None]]

IMPORT_APPLIED: ExtensionPoint[ImportApplied] = ExtensionPoint("masterdata.import_applied")
