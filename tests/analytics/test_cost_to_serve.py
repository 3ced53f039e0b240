"""Cost-to-serve over a real tenant: decrypted server-side, allocated, by segment at the order
date; every figure computed by hand from ``conftest.build_commercial``."""

from __future__ import annotations

from datetime import date

import pytest

from tests.analytics.conftest import FEB, JAN, MAR
from tierline.analytics.cost_to_serve.figures import Window, WindowRefused, cost_to_serve
from tierline.analytics.settings_store import SettingsRefused, read_choices, save_choices
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


async def test_figures_by_segment_region_and_month(runtime: Runtime, commercial: TenantRef) -> None:
    report = await cost_to_serve(runtime, commercial, Window.of(JAN, MAR))
    assert report.choices.scheme_code == "lightweight_abc"
    rows = {(r["segment"], r["region"], r["period"]): r for r in report.table.iter_rows(named=True)}
    # C1 in January (segment A): freight 10.00 by units 2:3, handling 3.00 by lines, returns
    # 1.50 by revenue 100:50 -> 14.50 on revenue 150.00 and margin 40.00.
    a_jan = rows[("A", "EU", JAN)]
    assert (a_jan["freight"], a_jan["handling"], a_jan["returns"]) == (1_000, 300, 150)
    assert (a_jan["revenue"], a_jan["margin"], a_jan["cost_to_serve"]) == (15_000, 4_000, 1_450)
    assert a_jan["margin_after_cts"] == 2_550
    assert a_jan["cts_share"] == pytest.approx(1_450 / 15_000)
    # C1 moved to B on 1 February: its February order counts in B.
    assert rows[("B", "EU", FEB)]["cost_to_serve"] == 300
    assert rows[("B", "US", JAN)]["cost_to_serve"] == 500
    assert rows[("(unassigned)", "(no region)", JAN)]["cost_to_serve"] == 0
    segments = {r["segment"]: r for r in report.by_segment.iter_rows(named=True)}
    assert (segments["A"]["revenue"], segments["A"]["margin_after_cts"]) == (15_000, 2_550)
    assert (segments["B"]["revenue"], segments["B"]["margin_after_cts"]) == (28_000, 7_200)
    # C3's March freight has no line to carry it.
    assert [(r.customer_code, r.period, r.cost_type) for r in report.refused] == [
        ("C3", MAR, "freight")
    ]
    assert report.unreadable == 0 and report.lines == 5


async def test_whale_curve_ranks_customers_by_profit_after_cost_to_serve(
    runtime: Runtime, commercial: TenantRef
) -> None:
    whale = (await cost_to_serve(runtime, commercial, Window.of(JAN, MAR))).whale
    # Profit after CTS: C2 55.00, C1 60.00 - 17.50 = 42.50, C3 1.00.
    assert whale.customers == 3 and whale.total == 9_850
    assert [p for _, p in whale.points] == [0, 5_500, 9_750, 9_850]
    assert whale.peak == 9_850 and whale.peak_share == 1.0 and whale.unprofitable == 0


async def test_the_tenants_driver_choice_changes_the_allocation(
    runtime: Runtime, commercial: TenantRef
) -> None:
    async with tenant_session(commercial, runtime.databases) as s:
        await save_choices(
            s, scheme_code=None, drivers={"freight": "value"}, churn_periods=2, actor="t"
        )
    report = await cost_to_serve(runtime, commercial, Window.of(JAN, JAN))
    customers = {r["customer_code"]: r for r in report.by_customer.iter_rows(named=True)}
    # Freight 10.00 by revenue 100:50 instead of units 2:3: still 10.00 in all for C1.
    assert customers["C1"]["freight"] == 1_000
    assert report.choices.drivers["freight"] == "value"
    assert report.choices.churn_periods == 2


async def test_bad_choices_and_windows_are_refused(runtime: Runtime, commercial: TenantRef) -> None:
    async with tenant_session(commercial, runtime.databases) as s:
        with pytest.raises(SettingsRefused, match="unknown driver 'pallets'"):
            await save_choices(
                s, scheme_code=None, drivers={"freight": "pallets"}, churn_periods=3, actor="t"
            )
        with pytest.raises(SettingsRefused, match="no customer scheme 'nope'"):
            await save_choices(s, scheme_code="nope", drivers={}, churn_periods=3, actor="t")
        assert (await read_choices(s)).drivers["freight"] == "units"
    with pytest.raises(WindowRefused, match="ends before it starts"):
        Window.of(FEB, JAN)
    with pytest.raises(WindowRefused, match="at most 36 months"):
        Window.of(date(2020, 1, 1), date(2026, 1, 1))
