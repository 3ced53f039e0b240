"""What commercial analytics adds to other domains' work: the pricing clauses of contracts
join service levels' contract check, so a reclassification (a run's move guard, an override,
a held move) and an entitlement change are held or refused like a contract-minimum conflict
(listed in this package's plugin, so it is registered wherever such a change can start)."""

from __future__ import annotations

from tierline.analytics.pricing.store import pricing_conflicts
from tierline.service_levels.service import CONTRACT_CHECKS

CONTRACT_CHECKS.register(pricing_conflicts)
