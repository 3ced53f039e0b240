"""What commercial analytics adds to other domains' work: the pricing clauses of contracts
join service levels' contract check, so a reclassification (a run's move guard, an override,
a held move) and an entitlement change are held or refused like a contract-minimum conflict
(listed in this package's plugin, so it is registered wherever such a change can start); and
the governance board sees the impact of what it decides on accounts and sales on its approval
page."""

from __future__ import annotations

from tierline.analytics.impact.panel import impact_panel
from tierline.analytics.pricing.store import pricing_conflicts
from tierline.governance.service import APPROVAL_PANELS
from tierline.service_levels.service import CONTRACT_CHECKS

CONTRACT_CHECKS.register(pricing_conflicts)
APPROVAL_PANELS.register(impact_panel)
