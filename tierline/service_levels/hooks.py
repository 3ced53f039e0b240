"""What service levels add to other domains' work: the contract check every classification run
consults before it moves a customer (listed in this package's plugin, so it is registered
wherever a run can start)."""

from __future__ import annotations

from tierline.segmentation.service import MOVE_GUARDS
from tierline.service_levels.contracts import hold_moves_below_contract

MOVE_GUARDS.register(hold_moves_below_contract)
