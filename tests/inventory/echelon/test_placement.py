"""Guaranteed-service placement as a policy option: the document chooses it (validated; an
absent option leaves the content hash of older documents alone) and, on a tree, it moves the
buffers between echelons where per-location placement buffers every location."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.inventory.echelon.test_profiles import ECHELON, LANES, NODES, make_rows
from tests.support.inventory_builders import POLICY
from tierline.inventory.document import (
    PolicyInvalid,
    content_hash,
    document_dict,
    parse_document,
)
from tierline.inventory.echelon import Network, place_buffers

STORES = [
    ("P", s, "GOLD", 0.98, m, sd) for s, m, sd in (("S1", 10, 3), ("S2", 20, 4), ("S3", 5, 2))
]
UPSTREAM = [("P", x, "GOLD", 0.95, 0, 0) for x in ("RDC1", "RDC2", "CDC")]


def placed(option: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    doc = parse_document({**POLICY, **({"buffer_placement": option} if option else {})})
    network = Network.build(NODES, LANES, one_source_each=True)
    result = place_buffers(network, ECHELON, make_rows(STORES + UPSTREAM), doc.buffer_placement)
    return {r["location"]: r for r in result.rows.iter_rows(named=True)}


def test_guaranteed_service_moves_the_buffers_on_a_tree() -> None:
    local = placed(None)
    assert all(local[x]["safety_stock_units"] > 0 for x in NODES)  # every location buffers
    gsm = placed({"method": "guaranteed_service", "max_service_days": 0})
    stock = {x: gsm[x]["safety_stock_units"] for x in NODES}
    assert stock != {x: local[x]["safety_stock_units"] for x in NODES}
    # Stores promise their customers 0 days, so they hold stock; some stage upstream passes its
    # replenishment time on instead (net replenishment 0, no buffer) - placement, not sizing.
    assert all(gsm[s]["outbound_service_days"] == 0 and stock[s] > 0 for s in ("S1", "S2", "S3"))
    assert any(gsm[x]["net_replenishment_days"] == 0 and stock[x] == 0 for x in NODES)
    for x in NODES:  # z·sd·sqrt(net replenishment days), sd pooled over the demand below
        expected = gsm[x]["service_factor"] * gsm[x]["pooled_demand_sd_per_day"]
        assert stock[x] == pytest.approx(expected * np.sqrt(gsm[x]["net_replenishment_days"]))
    # Customers that wait as long as the whole path (3 lanes of 4 days) need no buffer at all.
    patient = placed({"method": "guaranteed_service", "max_service_days": 12})
    assert all(patient[x]["safety_stock_units"] == pytest.approx(0.0) for x in NODES)


@pytest.mark.parametrize(
    ("option", "path"),
    [
        (
            {"method": "guaranteed_service", "max_service_days": -1},
            "buffer_placement.max_service_days",
        ),
        ({"supplier_service_days": 400}, "buffer_placement.supplier_service_days"),
        ({"method": "cheapest"}, "buffer_placement.method"),
        ({"max_days": 3}, "buffer_placement"),
    ],
)
def test_the_option_is_validated(option: dict[str, Any], path: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        parse_document({**POLICY, "buffer_placement": option})
    assert refused.value.issues[0].path == path


def test_an_absent_option_keeps_older_hashes() -> None:
    doc = parse_document(POLICY)
    assert "buffer_placement" not in document_dict(doc)
    chosen = parse_document({**POLICY, "buffer_placement": {"method": "guaranteed_service"}})
    assert document_dict(chosen)["buffer_placement"]["method"] == "guaranteed_service"
    assert content_hash(chosen) != content_hash(doc)
