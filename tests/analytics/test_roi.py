"""The programme's ROI: attainment by hand, overlapping periods refused, cost-to-serve shares
of a real tenant against a baseline, masked for an analyst."""

from __future__ import annotations

from datetime import date

import httpx
import polars as pl
import pytest

from tests.analytics.conftest import FEB, JAN
from tests.conftest import StaffFactory
from tests.support.web import sign_in
from tierline.analytics.cost_to_serve.figures import Window, WindowRefused
from tierline.analytics.roi.summary import attainment, check_periods, roi_summary
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


def test_attainment_is_the_share_of_monthly_targets_met() -> None:
    frame = pl.DataFrame(
        {"segment": ["A", "A", "B"], "period_start": [JAN, FEB, JAN],
         "otif": [0.9, 0.8, 0.95], "otif_met": [True, False, True],
         "unit_fill_rate": [0.99, 0.97, None], "unit_fill_rate_met": [True, None, None]}
    )  # fmt: skip
    found = attainment(frame)
    # A: otif met in January, missed in February; fill rate met once, no target once: 2 of 3.
    assert found["A"][0] == pytest.approx(2 / 3)
    assert found["A"][1]["otif"] == pytest.approx(0.85)
    assert found["B"][0] == 1.0


def test_overlapping_periods_are_refused() -> None:
    with pytest.raises(WindowRefused, match="overlap"):
        check_periods(Window.of(JAN, FEB), Window.of(FEB, date(2026, 3, 1)))
    check_periods(Window.of(JAN, JAN), Window.of(FEB, FEB))


async def test_cost_to_serve_share_per_segment_against_the_baseline(
    runtime: Runtime, commercial: TenantRef
) -> None:
    roi = await roi_summary(runtime, commercial, Window.of(JAN, JAN), Window.of(FEB, FEB))
    rows = {s.segment: s for s in roi.segments}
    # A in January: 14.50 on 150.00; in February nobody ordered in A.
    assert rows["A"].cts_share_before == pytest.approx(1_450 / 15_000)
    assert rows["A"].cts_share_after is None and rows["A"].cts_share_change is None
    # B: January C2 5.00 on 200.00; February C1 (moved to B) 3.00 on 80.00.
    assert rows["B"].cts_share_change == pytest.approx(300 / 8_000 - 500 / 20_000)
    assert roi.notes and "inventory" in roi.notes[0]


async def test_roi_api_and_page(
    client: httpx.AsyncClient, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    assert (await sign_in(client, await make_staff(commercial, "planner"))).status_code == 303
    params = {
        "baseline_first": "2026-01",
        "baseline_last": "2026-01",
        "first": "2026-02",
        "last": "2026-02",
    }
    body = (await client.get("/api/v1/analytics/roi", params=params)).json()
    assert {s["segment"] for s in body["segments"]} >= {"A", "B"} and body["masked"] is False
    overlap = await client.get(
        "/api/v1/analytics/roi", params={**params, "baseline_last": "2026-02"}
    )
    assert overlap.status_code == 422 and "overlap" in overlap.json()["detail"]
    page = await client.get(f"/t/{commercial.slug}/analytics/roi", params=params)
    assert page.status_code == 200 and "Cost to serve as a share of revenue" in page.text
    assert (await sign_in(client, await make_staff(commercial, "analyst"))).status_code == 303
    masked = (await client.get("/api/v1/analytics/roi", params=params)).json()
    assert masked["masked"] is True
    assert all(
        s["cts_share_before"] is None and s["cts_share_after"] is None for s in masked["segments"]
    )
