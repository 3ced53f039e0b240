"""Multi-echelon buffers: network checks, buffer profiles per segment and echelon, capacity
cuts at locations, and guaranteed-service placement of safety stock on trees."""

from tierline.inventory.echelon.capacity import CapacityCuts, CapacityRows, capacity_cuts
from tierline.inventory.echelon.gsm import (
    NO_LIMIT,
    GsmResult,
    GsmStages,
    optimise_service_times,
    pooled_demand,
)
from tierline.inventory.echelon.network import Network, NetworkRefused
from tierline.inventory.echelon.placement import place_buffers
from tierline.inventory.echelon.profiles import EchelonBuffers, EchelonRows, echelon_buffers

__all__ = [
    "NO_LIMIT",
    "CapacityCuts",
    "CapacityRows",
    "EchelonBuffers",
    "EchelonRows",
    "GsmResult",
    "GsmStages",
    "Network",
    "NetworkRefused",
    "capacity_cuts",
    "echelon_buffers",
    "optimise_service_times",
    "place_buffers",
    "pooled_demand",
]
