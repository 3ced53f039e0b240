"""Networks the multi-echelon engines refuse, each with the lanes at fault named."""

from __future__ import annotations

import pytest

from tierline.inventory.echelon import Network, NetworkRefused


def test_a_lane_cycle_is_refused_naming_its_lanes() -> None:
    with pytest.raises(NetworkRefused) as refused:
        Network.build(["A", "B", "C"], [("A", "B"), ("B", "A"), ("C", "A")])
    assert refused.value.lanes == (("A", "B"), ("B", "A"))
    assert "A sources B sources A" in str(refused.value)
    assert refused.value.status_code == 422
    assert refused.value.code == "network_refused"


def test_a_longer_cycle_names_every_lane_in_order() -> None:
    with pytest.raises(NetworkRefused) as refused:
        Network.build(["S", "A", "B", "C"], [("S", "A"), ("A", "B"), ("B", "C"), ("C", "A")])
    assert refused.value.lanes == (("A", "B"), ("B", "C"), ("C", "A"))


def test_two_routes_between_the_same_locations_are_refused() -> None:
    lanes = [("CDC", "RDC1"), ("CDC", "RDC2"), ("RDC1", "STORE"), ("RDC2", "STORE")]
    with pytest.raises(NetworkRefused) as refused:
        Network.build(["CDC", "RDC1", "RDC2", "STORE"], lanes)
    assert set(refused.value.lanes) == set(lanes)
    assert "tree" in str(refused.value)


def test_two_sources_are_refused_only_where_demand_is_pooled() -> None:
    nodes, lanes = ["P1", "P2", "DC"], [("P1", "DC"), ("P2", "DC")]
    assert Network.build(nodes, lanes).sources[2] == (0, 1)  # an assembly: fine for the GSM
    with pytest.raises(NetworkRefused) as refused:
        Network.build(nodes, lanes, one_source_each=True)
    assert refused.value.lanes == (("P1", "DC"), ("P2", "DC"))


@pytest.mark.parametrize(
    ("nodes", "lanes", "words"),
    [
        (["A"], [("A", "A")], "replenish itself"),
        (["A", "B"], [("A", "X")], "unknown locations: A → X"),
        (["A", "B"], [("A", "B"), ("A", "B")], "given twice"),
        (["A", "A"], [], "listed twice: A"),
    ],
)
def test_malformed_networks_are_refused(
    nodes: list[str], lanes: list[tuple[str, str]], words: str
) -> None:
    with pytest.raises(NetworkRefused, match=words):
        Network.build(nodes, lanes)


def test_order_puts_sources_first_and_a_forest_is_fine() -> None:
    net = Network.build(["STORE", "RDC", "CDC", "LONE"], [("RDC", "STORE"), ("CDC", "RDC")])
    order = [net.nodes[i] for i in net.order]
    assert order.index("CDC") < order.index("RDC") < order.index("STORE")
    assert "LONE" in order
