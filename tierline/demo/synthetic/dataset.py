"""What the generator returns: one frame per importable entity, and the ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import polars as pl


@dataclass(frozen=True)
class GroundTruth:
    """What the generator meant, to check classifiers and matchers against (not importable).

    ``product_patterns``: sku, demand_pattern, promotions (bool).
    ``source_matches``: source_system, source_key, customer_code (null for a near-match, which
    is a different company), relation (record | duplicate | near_match).
    """

    product_patterns: pl.DataFrame
    source_matches: pl.DataFrame


@dataclass(frozen=True)
class SyntheticDataset:
    scale: str
    seed: int
    as_of: date
    customers: pl.DataFrame
    customer_sources: pl.DataFrame
    products: pl.DataFrame
    uom_conversions: pl.DataFrame
    locations: pl.DataFrame
    suppliers: pl.DataFrame
    order_lines: pl.DataFrame
    inventory_positions: pl.DataFrame
    lead_times: pl.DataFrame
    cost_to_serve: pl.DataFrame
    sourcing_lanes: pl.DataFrame
    open_supply: pl.DataFrame
    demand_forecasts: pl.DataFrame
    promotions: pl.DataFrame
    erp_parameters: pl.DataFrame
    truth: GroundTruth

    # Load order: every reference points backwards.
    ENTITIES: ClassVar[tuple[str, ...]] = (
        "customers",
        "customer_sources",
        "products",
        "uom_conversions",
        "locations",
        "suppliers",
        "order_lines",
        "inventory_positions",
        "lead_times",
        "cost_to_serve",
        "sourcing_lanes",
        "open_supply",
        "demand_forecasts",
        "promotions",
        "erp_parameters",
    )

    def frames(self) -> dict[str, pl.DataFrame]:
        """Entity name -> frame, in load order."""
        return {name: getattr(self, name) for name in self.ENTITIES}

    @property
    def row_count(self) -> int:
        return sum(frame.height for frame in self.frames().values())
