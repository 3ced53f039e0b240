"""Buffer profiles: pooled demand upstream, the segment's profile per echelon, shares."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tierline.inventory.echelon import EchelonRows, Network, NetworkRefused, echelon_buffers

NODES = ["CDC", "RDC1", "RDC2", "S1", "S2", "S3"]
LANES = [("CDC", "RDC1"), ("CDC", "RDC2"), ("RDC1", "S1"), ("RDC1", "S2"), ("RDC2", "S3")]
ECHELON = {"CDC": 3, "RDC1": 2, "RDC2": 2, "S1": 1, "S2": 1, "S3": 1}


def make_rows(records: list[tuple[str, str, str, float, float, float]]) -> EchelonRows:
    """(sku, location, segment, service level, demand mean, demand sd); lead time 4 ± 1."""
    n = len(records)
    col = list(zip(*records, strict=True))
    return EchelonRows(
        sku=np.array(col[0], dtype=object),
        location=np.array(col[1], dtype=object),
        segment=np.array(col[2], dtype=object),
        service_level=np.array(col[3], dtype=float),
        demand_mean_per_day=np.array(col[4], dtype=float),
        demand_sd_per_day=np.array(col[5], dtype=float),
        lead_time_mean_days=np.full(n, 4.0),
        lead_time_sd_days=np.full(n, 1.0),
        review_period_days=np.zeros(n),
    )


def test_upstream_buffers_pool_the_demand_below_them() -> None:
    network = Network.build(NODES, LANES, one_source_each=True)
    rows = make_rows(
        [
            ("P", "S1", "GOLD", 0.98, 10, 3),
            ("P", "S2", "GOLD", 0.98, 20, 4),
            ("P", "S3", "GOLD", 0.98, 5, 2),
            ("P", "RDC1", "GOLD", 0.95, 0, 0),
            ("P", "RDC2", "GOLD", 0.95, 2, 1),  # RDC2 also serves customers of its own
            ("P", "CDC", "GOLD", 0.90, 0, 0),
        ]
    )
    result = echelon_buffers(network, ECHELON, rows)
    by_location = {r["location"]: r for r in result.rows.iter_rows(named=True)}
    assert by_location["RDC1"]["pooled_demand_mean_per_day"] == 30
    assert by_location["RDC1"]["pooled_demand_sd_per_day"] == pytest.approx(5.0)  # sqrt(9+16)
    assert by_location["RDC2"]["pooled_demand_sd_per_day"] == pytest.approx(np.sqrt(5))
    assert by_location["CDC"]["pooled_demand_mean_per_day"] == 37
    assert by_location["CDC"]["pooled_demand_sd_per_day"] == pytest.approx(np.sqrt(9 + 16 + 4 + 1))
    cdc = by_location["CDC"]
    expected = norm.ppf(0.90) * np.sqrt(4 * 30 + 37**2 * 1)
    assert cdc["safety_stock_units"] == pytest.approx(expected)
    # pooling: one central buffer over the stores' demand is smaller than the stores' sum
    stores = sum(by_location[s]["pooled_demand_sd_per_day"] for s in ("S1", "S2", "S3"))
    assert cdc["pooled_demand_sd_per_day"] < stores
    profile = result.profile.filter(segment="GOLD")
    assert profile["share_of_segment_buffer"].sum() == pytest.approx(1.0)
    assert profile["echelon"].to_list() == [1, 2, 3]
    assert profile.filter(echelon=1)["customer_demand_per_day"].item() == 35


def test_a_segment_profile_moves_the_buffer_between_echelons() -> None:
    """Bronze keeps no store buffer: it is held only centrally, at 95 %."""
    network = Network.build(NODES, LANES, one_source_each=True)
    rows = make_rows(
        [
            ("B", "S1", "BRONZE", 0.9, 4, 2),
            ("B", "S3", "BRONZE", 0.9, 4, 2),
            ("B", "CDC", "BRONZE", 0.9, 0, 0),
        ]
    )
    result = echelon_buffers(network, ECHELON, rows, {"BRONZE": {1: None, 3: 0.95}})
    frame = {r["location"]: r for r in result.rows.iter_rows(named=True)}
    assert frame["S1"]["safety_stock_units"] == 0 and frame["S1"]["holds_buffer"] is False
    assert frame["CDC"]["service_level"] == 0.95
    assert frame["CDC"]["pooled_demand_sd_per_day"] == pytest.approx(np.sqrt(8))
    profile = result.profile.sort("echelon")
    assert profile["share_of_segment_buffer"].to_list() == pytest.approx([0.0, 1.0])


def test_an_sku_with_unusable_input_is_left_out_whole() -> None:
    network = Network.build(NODES, LANES, one_source_each=True)
    rows = make_rows(
        [
            ("P", "S1", "GOLD", 1.0, 10, 3),  # a 100 % target cannot be bought
            ("P", "CDC", "GOLD", 0.9, 0, 0),
            ("Q", "S2", "GOLD", 0.9, -1, 3),  # negative demand
            ("R", "S3", "GOLD", 0.9, 1, 1),
            ("R", "NOWHERE", "GOLD", 0.9, 1, 1),
        ]
    )
    result = echelon_buffers(network, ECHELON, rows)
    codes = {(r["row"], r["code"]) for r in result.flags.iter_rows(named=True)}
    assert codes == {
        (0, "service_level_invalid"),
        (1, "sku_incomplete"),
        (2, "demand_invalid"),
        (3, "sku_incomplete"),
        (4, "location_not_in_network"),
    }
    assert result.rows["included"].to_list() == [False] * 5
    assert result.rows["safety_stock_units"].null_count() == 5


def test_pooling_needs_one_source_per_location() -> None:
    with pytest.raises(NetworkRefused, match="one source"):
        Network.build(["A", "B", "C"], [("A", "C"), ("B", "C")], one_source_each=True)
