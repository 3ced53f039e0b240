"""The simulation API's structs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec


class SimulationOut(msgspec.Struct):
    id: int
    policy_run_id: str | None
    policy_code: str | None
    as_of: date
    days: int
    seed: int
    sku_locations: int
    candidates: int
    sampled: bool
    # Per segment, each metric under both policies and the paired change with its interval:
    # fill_rate, cycle_service_level, average_on_hand, stockout_days, orders_per_year
    comparison: list[dict[str, Any]]
    # Per segment and demand class ("*": all): target, formula, simulated with its interval
    calibration: list[dict[str, Any]]
    shortfalls: list[dict[str, Any]]  # segments whose simulated attainment misses the target
    flags: dict[str, int]  # rows left out (or noted), by reason code
    created_at: datetime
    created_by: str


class SimulateIn(msgspec.Struct):
    """``days`` of history replayed (8 weeks to 2 years) and the random ``seed`` of the lead-time
    draws and the bootstrap (the same seed, the same answer)."""

    days: int = msgspec.field(default=364)
    seed: int = msgspec.field(default=7)
