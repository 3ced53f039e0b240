"""Cost-to-serve allocation: a hand-computed case per driver, the bad records, and properties
(shares add up exactly, each within one minor unit of its exact quota, order-independent)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tierline.analytics.cost_to_serve.allocation import COST_TYPES, allocate

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)


def _lines() -> pl.DataFrame:
    """Customer C1 in January: three lines of 2, 3 and 5 units; 0.5, 1 and 0.2 kg each
    (1,000 g, 3,000 g and 1,000 g a line); revenue 10.00, 20.00 and 70.00."""
    return pl.DataFrame(
        {
            "line": [1, 2, 3],
            "customer_code": ["C1"] * 3,
            "period": [JAN] * 3,
            "lines": [1, 1, 1],
            "units": [20_000, 30_000, 50_000],  # 1/10,000 units
            "weight": [1_000, 3_000, 1_000],
            "value": [1_000, 2_000, 7_000],
        }
    )


def _costs(*rows: tuple[str, date, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_code": pl.String,
            "period": pl.Date,
            "cost_type": pl.String,
            "amount": pl.Int64,
        },
        orient="row",
    )


def _shares(driver: str, amount: int) -> list[int]:
    result = allocate(_lines(), _costs(("C1", JAN, "freight", amount)), {"freight": driver})
    assert result.refused == []
    return result.shares.sort("line")["freight"].to_list()


def test_lines_driver_gives_the_leftover_unit_to_the_first_line_on_a_tie() -> None:
    # 10.00 over 3 lines: 333.33 each; 999 floored, the 1 left goes to line 1 (equal remainders).
    assert _shares("lines", 1_000) == [334, 333, 333]


def test_units_driver_gives_the_leftover_to_the_largest_remainder() -> None:
    # 1,001 x (2, 3, 5)/10 = 200.2, 300.3, 500.5: floors add to 1,000, line 3 has the largest rest.
    assert _shares("units", 1_001) == [200, 300, 501]


def test_weight_driver() -> None:
    # 1,001 x (1, 3, 1)/5 = 200.2, 600.6, 200.2: line 2 takes the unit left over.
    assert _shares("weight", 1_001) == [200, 601, 200]


def test_value_driver_hands_out_two_leftover_units() -> None:
    # 7 x (10, 20, 70)/100 = 0.7, 1.4, 4.9: floors 0+1+4 = 5; 2 left to line 3 (.9) and line 1 (.7).
    assert _shares("value", 7) == [1, 1, 5]


def test_each_cost_type_uses_its_own_driver_and_months_are_pools_of_their_own() -> None:
    lines = pl.concat(
        [
            _lines(),
            pl.DataFrame(
                {
                    "line": [4],
                    "customer_code": ["C1"],
                    "period": [FEB],
                    "lines": [1],
                    "units": [10_000],
                    "weight": [None],
                    "value": [500],
                },
                schema_overrides={"weight": pl.Int64},
            ),
        ]
    )
    costs = _costs(
        ("C1", JAN, "freight", 1_001), ("C1", JAN, "handling", 1_000),
        ("C1", JAN, "returns", 7), ("C1", FEB, "handling", 250),
    )  # fmt: skip
    result = allocate(lines, costs, {"freight": "units", "handling": "lines", "returns": "value"})
    shares = result.shares.sort("line")
    assert shares["freight"].to_list() == [200, 300, 501, 0]
    assert shares["handling"].to_list() == [334, 333, 333, 250]
    assert shares["returns"].to_list() == [1, 1, 5, 0]
    assert result.refused == []


def test_bad_records_are_refused_with_reasons_and_allocate_nothing() -> None:
    lines = _lines().with_columns(pl.lit(None, dtype=pl.Int64).alias("weight"))
    costs = _costs(
        ("C1", JAN, "freight", 500),  # weight driver: nothing weighs anything
        ("C1", JAN, "handling", -40),  # negative
        ("C9", JAN, "handling", 100),  # unknown customer
        ("C1", FEB, "returns", 60),  # no lines in February
        ("C1", JAN, "returns", 70),  # fine
    )
    result = allocate(
        lines, costs, {"freight": "weight", "handling": "lines", "returns": "value"}, {"C1"}
    )
    reasons = {(r.customer_code, r.period, r.cost_type): r.reason for r in result.refused}
    assert reasons[("C1", JAN, "freight")].startswith("the driver 'weight' totals zero")
    assert reasons[("C1", JAN, "handling")].startswith("negative cost")
    assert reasons[("C9", JAN, "handling")].startswith("unknown customer")
    assert reasons[("C1", FEB, "returns")].startswith("no order lines")
    assert len(reasons) == 4
    shares = result.shares.sort("line")
    assert shares["freight"].sum() == 0 and shares["handling"].sum() == 0
    assert shares["returns"].to_list() == [7, 14, 49]
    assert result.refused_amount == 500 + 100 + 60


def test_a_cost_type_without_a_driver_is_refused() -> None:
    result = allocate(_lines(), _costs(("C1", JAN, "returns", 9)), {"freight": "lines"})
    assert [r.reason for r in result.refused] == ["cost type has no driver chosen"]


def test_amounts_far_beyond_64_bit_products_stay_exact() -> None:
    big = 9_000_000_000_000_000_000  # x driver 7*10^12 overflows 64 bits
    lines = _lines().with_columns(pl.Series("value", [10**12, 2 * 10**12, 4 * 10**12]))
    result = allocate(lines, _costs(("C1", JAN, "returns", big)), {"returns": "value"})
    shares = result.shares.sort("line")["returns"].to_list()
    assert shares == _largest_remainder(big, [1, 2, 4])


def _largest_remainder(amount: int, weights: list[int]) -> list[int]:
    """The method by hand, in Python's unbounded integers (ties to the earlier line)."""
    total = sum(weights)
    base = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(base)]:
        base[i] += 1
    return base


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(1, 12))
    customers = draw(st.lists(st.sampled_from(["A", "B"]), min_size=n, max_size=n))
    units = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    lines = pl.DataFrame(
        {"line": list(range(n)), "customer_code": customers, "period": [JAN] * n,
         "lines": [1] * n, "units": units, "weight": units, "value": units}
    )  # fmt: skip
    amounts = draw(st.lists(st.integers(0, 10**12), min_size=2, max_size=2))
    costs = _costs(("A", JAN, "freight", amounts[0]), ("B", JAN, "freight", amounts[1]))
    return lines, costs


@settings(max_examples=150, deadline=None)
@given(_cases(), st.sampled_from(["lines", "units"]))
def test_shares_add_up_exactly_and_stay_within_a_unit_of_their_quota(
    case: tuple[pl.DataFrame, pl.DataFrame], driver: str
) -> None:
    lines, costs = case
    result = allocate(lines, costs, {"freight": driver})
    shuffled = allocate(
        lines.sample(fraction=1.0, shuffle=True, seed=7), costs, {"freight": driver}
    )
    assert result.shares.sort("line").equals(shuffled.shares.sort("line"))
    joined = lines.join(result.shares, on="line")
    refused = {r.customer_code for r in result.refused}
    for customer, amount in costs.select("customer_code", "amount").iter_rows():
        mine = joined.filter(pl.col("customer_code") == customer)
        if customer in refused or mine.height == 0:
            assert mine["freight"].sum() == 0
            continue
        assert mine["freight"].sum() == amount
        total = mine[driver].sum()
        for weight, share in mine.select(driver, "freight").iter_rows():
            quota = Fraction(amount * weight, total)
            assert quota - 1 < share < quota + 1
        ordered = mine.sort("line")
        assert ordered["freight"].to_list() == _largest_remainder(amount, ordered[driver].to_list())


def test_every_cost_type_appears_in_the_shares() -> None:
    result = allocate(_lines(), _costs(), {"freight": "lines"})
    assert set(COST_TYPES) <= set(result.shares.columns)
    assert result.shares.height == 3
