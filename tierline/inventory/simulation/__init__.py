"""Simulation before deployment: replay daily demand history under a policy, roll it up per
segment with block-bootstrap intervals, and calibrate the formula against its targets."""

from tierline.inventory.simulation.bootstrap import (
    BootstrapSettings,
    compare_policies,
    segment_summary,
)
from tierline.inventory.simulation.calibration import (
    FormulaVerdict,
    ServiceMeasure,
    ServiceTargets,
    Verdict,
    calibration_report,
)
from tierline.inventory.simulation.engine import (
    DailyCells,
    SimulationResult,
    SimulationSettings,
    simulate,
)
from tierline.inventory.simulation.leadtimes import LaneLeadTimes
from tierline.inventory.simulation.policy import (
    ErpLotSize,
    LotSizing,
    PolicyType,
    ReplenishmentPolicy,
)

__all__ = [
    "BootstrapSettings",
    "DailyCells",
    "ErpLotSize",
    "FormulaVerdict",
    "LaneLeadTimes",
    "LotSizing",
    "PolicyType",
    "ReplenishmentPolicy",
    "ServiceMeasure",
    "ServiceTargets",
    "SimulationResult",
    "SimulationSettings",
    "Verdict",
    "calibration_report",
    "compare_policies",
    "segment_summary",
    "simulate",
]
