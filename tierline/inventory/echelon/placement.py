"""Buffer placement as the policy document chooses it (``buffer_placement.method``).

- ``per_location`` (the default): :func:`echelon_buffers`, each location buffering its own
  protection interval as if its source were reliable;
- ``guaranteed_service``: the same rows, pooled demand, service levels and exclusions, but the
  safety stock of each SKU comes from the Graves-Willems placement over the tree
  (:func:`optimise_service_times`): customer-facing locations (those with demand of their own)
  quote ``max_service_days``, sources are promised ``supplier_service_days``, and each
  location's net replenishment time (inbound service + lead time + review − outbound service)
  sets its buffer. The model takes lead times as deterministic whole days (mean lead time plus
  review period, rounded up) and one unit of holding cost per unit everywhere, as no unit
  values per echelon are on record: lead-time variability is not buffered in this option.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from tierline.inventory.document import BufferPlacement
from tierline.inventory.echelon.gsm import NO_LIMIT, GsmStages, optimise_service_times
from tierline.inventory.echelon.network import Network
from tierline.inventory.echelon.profiles import (
    EchelonBuffers,
    EchelonRows,
    Profiles,
    _profile,
    echelon_buffers,
)


def place_buffers(
    network: Network,
    echelon: Mapping[str, int],
    rows: EchelonRows,
    placement: BufferPlacement | None,
    profiles: Profiles | None = None,
) -> EchelonBuffers:
    """Safety stock per SKU-location and its profile, placed by ``placement`` (None: per
    location)."""
    base = echelon_buffers(network, echelon, rows, profiles)
    if placement is None or placement.method == "per_location":
        return base
    frame = base.rows
    included = frame["included"].to_numpy()
    skus, item = np.unique(rows.sku.astype(str), return_inverse=True)
    position = {name: i for i, name in enumerate(network.nodes)}
    stage = np.fromiter((position.get(str(x), 0) for x in rows.location), np.int64, rows.sku.size)
    shape = (skus.size, len(network.nodes))
    at = (item[included], stage[included])

    def grid(values: np.ndarray, empty: float = 0.0) -> np.ndarray:  # type: ignore[type-arg]
        out = np.full(shape, empty)
        out[at] = values[included]
        return out

    own_demand = grid(rows.demand_mean_per_day) + grid(rows.demand_sd_per_day) > 0
    z = frame["service_factor"].fill_null(0.0).to_numpy()
    result = optimise_service_times(
        network,
        GsmStages(
            processing_days=np.ceil(
                grid(rows.lead_time_mean_days + rows.review_period_days)
            ).astype(np.int64),
            holding_cost_per_day=grid(np.ones(rows.sku.size)),
            demand_sd_per_day=grid(rows.demand_sd_per_day),
            service_factor=grid(z),
            max_service_days=np.where(own_demand, placement.max_service_days, NO_LIMIT).astype(
                np.int64
            ),
            external_inbound_days=np.full(shape, placement.supplier_service_days, np.int64),
        ),
    )
    pick = (item, stage)
    placed = frame.with_columns(
        pl.Series(
            "safety_stock_units",
            np.where(included, result.safety_stock_units[pick], np.nan),
        ).fill_nan(None),
        pl.Series(
            "outbound_service_days", np.where(included, result.outbound_service_days[pick], -1)
        ),
        pl.Series(
            "net_replenishment_days", np.where(included, result.net_replenishment_days[pick], -1)
        ),
    ).with_columns(
        pl.when(pl.col("included")).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("outbound_service_days", "net_replenishment_days")
    )
    return EchelonBuffers(placed, _profile(placed), base.flags)
