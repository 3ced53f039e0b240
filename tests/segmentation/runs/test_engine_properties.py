"""Properties of classification that must hold for any features frame."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import msgspec
import polars as pl
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tierline.segmentation.runs.engine import classify
from tierline.segmentation.schemes.document import Scheme, load_template, parse_scheme

SCHEME = parse_scheme(load_template("customer_service")).scheme
THRESHOLDS = SCHEME.classifiers.abc.thresholds
SEGMENTS = {s.code for s in SCHEME.segments}

# small value sets make ties and zero demand common
revenue = st.one_of(
    st.just(0.0), st.sampled_from([1.0, 2.0, 5.0]), st.floats(0, 1e6, allow_nan=False)
)
entity = st.tuples(
    revenue,
    st.one_of(st.none(), st.floats(0, 5, allow_nan=False)),
    st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.sampled_from(["EMEA", "APAC"])),
    st.one_of(st.none(), st.sampled_from(["KEY_ACCOUNT", "DIRECT"])),
)


def frame(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(f"e{i:04d}", *row, 0.0) for i, row in enumerate(rows)],
        schema={
            "entity_key": pl.String,
            "revenue": pl.Float64,
            "cv": pl.Float64,
            "margin_pct": pl.Float64,
            "strategic": pl.Boolean,
            "region": pl.String,
            "channel": pl.String,
            "max_period_share": pl.Float64,
        },
        orient="row",
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(entity, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_classification_properties(rows: list[tuple[object, ...]], rng: object) -> None:
    features = frame(rows)
    result = classify(SCHEME, features)

    # every entity exactly once, with exactly one defined segment, sorted by key
    assert result["entity_key"].to_list() == sorted(features["entity_key"].to_list())
    assert result["segment"].null_count() == 0
    assert set(result["segment"].to_list()) <= SEGMENTS

    # ABC is the threshold rule on the share *before* each entity (the entity that crosses a
    # threshold completes its class); entities with no driver are C. Decided exactly: no
    # tolerance around the thresholds.
    joined = result.join(features, on="entity_key")
    assert joined["abc"].to_list() == exact_abc(SCHEME, joined["entity_key"], joined["revenue"])
    # zero demand is C with cum_share 1
    zero = result.join(features, on="entity_key").filter(pl.col("revenue") == 0)
    assert zero["abc"].eq("C").all() and zero["cum_share"].eq(1.0).all()
    # cum_share is monotone in the driver: bigger revenue never has a larger share (drivers are
    # compared in units of 1/10,000: 2.0 and 2.00001 are a tie, broken by key)
    units = (pl.col("revenue").fill_null(0.0) * 10_000).round(0)
    ordered = (
        result.join(features, on="entity_key")
        .with_columns(units.alias("units"))
        .sort(["units", "entity_key"], descending=[True, False])
    )
    shares = ordered.filter(pl.col("units") > 0)["cum_share"].to_list()
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(shares))  # float noise

    # permuting the rows changes nothing; re-running changes nothing
    shuffled = features.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 10**6))  # type: ignore[attr-defined]
    assert_frame_equal(classify(SCHEME, shuffled), result)
    assert_frame_equal(classify(SCHEME, features), result)
    assert (result["boundary_distance"] >= 0).all()


# -- exact class boundaries ---------------------------------------------------------------


def exact_abc(scheme: Scheme, keys: pl.Series, drivers: pl.Series) -> list[str]:
    """The ABC rule with rational arithmetic: the reference the engine must equal. Drivers are
    read in units of 1/10,000 (the engine's documented resolution), thresholds as written."""
    t = scheme.classifiers.abc.thresholds
    a, b = Fraction(Decimal(repr(t.a))), Fraction(Decimal(repr(t.b)))
    units = {
        k: round(max(d or 0.0, 0.0) * 10_000)
        for k, d in zip(keys.to_list(), drivers.to_list(), strict=True)
    }
    total = sum(units.values())
    ranked = sorted(units, key=lambda k: (-units[k], k))
    classes, before = {}, 0
    for key in ranked:
        own = units[key]
        if own <= 0 or total <= 0:
            classes[key] = "C"
        else:
            share = Fraction(before, total)
            classes[key] = "A" if share < a else "B" if share < b else "C"
        before += own
    return [classes[k] for k in keys.to_list()]


def with_thresholds(a: float, b: float) -> Scheme:
    thresholds = msgspec.structs.replace(SCHEME.classifiers.abc.thresholds, a=a, b=b)
    abc = msgspec.structs.replace(SCHEME.classifiers.abc, thresholds=thresholds)
    return msgspec.structs.replace(
        SCHEME, classifiers=msgspec.structs.replace(SCHEME.classifiers, abc=abc)
    )


def revenue_frame(cents: list[int]) -> pl.DataFrame:
    """Customers whose revenue is the given whole cents, as the decimal floats an import
    stores (0.07, 12.3, ...)."""
    return pl.DataFrame(
        {
            "entity_key": [f"e{i:04d}" for i in range(len(cents))],
            "revenue": [c / 100 for c in cents],
            "cv": [0.2] * len(cents),
            "margin_pct": [0.1] * len(cents),
            "max_period_share": [0.0] * len(cents),
        }
    )


THRESHOLD_PAIRS = [(0.8, 0.95), (0.7, 0.9), (0.5, 0.75), (0.6, 0.85), (0.2, 0.3), (0.8, 0.9)]


@st.composite
def boundary_case(draw: st.DrawFn) -> tuple[float, float, list[int], int]:
    """Thresholds, revenues in cents (largest first) and the index of the entity whose share
    *before* it is exactly one of the thresholds."""
    a, b = draw(st.sampled_from(THRESHOLD_PAIRS))
    target = Fraction(Decimal(repr(draw(st.sampled_from([a, b])))))
    # head / total == target: head = target * total, with total a multiple of the denominator
    scale = draw(st.integers(1, 40))
    total = target.denominator * scale * draw(st.sampled_from([1, 10, 100, 1000]))
    head = int(target * total)
    tail = total - head
    # the head is the largest entities, the tail the smaller ones: split each into parts, every
    # head part at least as large as every tail part (so the sort order keeps them apart)
    tail_parts = draw(st.integers(1, 6))
    tail_cap = -(-tail // tail_parts)
    head_parts = max(1, min(draw(st.integers(1, 6)), head // max(tail_cap, 1)))
    cents = split(head, head_parts) + split(tail, tail_parts)
    cents = [c for c in cents if c > 0]
    assume(min(cents[:head_parts]) >= max(cents[head_parts:], default=0))
    return a, b, cents, head_parts


def split(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` near-equal whole parts, largest first."""
    base, extra = divmod(amount, parts)
    return [base + 1] * extra + [base] * (parts - extra)


@settings(max_examples=200, deadline=None)
@given(boundary_case(), st.randoms(use_true_random=False))
def test_a_share_exactly_on_a_threshold_is_decided_exactly(
    case: tuple[float, float, list[int], int], rng: object
) -> None:
    a, b, cents, boundary = case
    scheme = with_thresholds(a, b)
    features = revenue_frame(cents)
    result = classify(scheme, features)
    expected = exact_abc(scheme, features["entity_key"], features["revenue"])
    assert result["abc"].to_list() == expected
    # the entity right on the boundary left the class whose threshold it sits on
    on_edge = result.sort("cum_share")["abc"][boundary]
    share = Fraction(sum(cents[:boundary]), sum(cents))
    assert share in (Fraction(Decimal(repr(a))), Fraction(Decimal(repr(b))))
    assert on_edge == ("B" if share == Fraction(Decimal(repr(a))) else "C")
    shuffled = features.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 10**6))  # type: ignore[attr-defined]
    assert_frame_equal(classify(scheme, shuffled), result)


def test_hand_made_share_of_exactly_eighty_percent() -> None:
    # 0.5 + 0.2 + 0.1 is 0.7999999999999999 in floating point; the fourth customer's share
    # before it is exactly 80 %, so it completes nothing in A: it is B (and so is the fifth,
    # at 90 %, under the B threshold of 95 %).
    assert 0.5 + 0.2 + 0.1 < 0.8
    features = revenue_frame([50, 20, 10, 10, 10])
    result = classify(with_thresholds(0.8, 0.95), features)
    assert result["abc"].to_list() == ["A", "A", "A", "B", "B"]
    # ... and at thresholds 0.7 / 0.8 the third is exactly on A and the fourth on B
    result = classify(with_thresholds(0.7, 0.8), features)
    assert result["abc"].to_list() == ["A", "A", "B", "C", "C"]
