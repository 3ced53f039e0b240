"""Properties of classification that must hold for any features frame."""

from __future__ import annotations

import itertools

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tierline.segmentation.runs.engine import classify
from tierline.segmentation.schemes.document import load_template, parse_scheme

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
    # threshold completes its class); entities with no driver are C. Values within 1e-9 of a
    # threshold are skipped: there the two float sums may round either way.
    joined = result.join(features, on="entity_key")
    driver = joined["revenue"].fill_null(0.0).clip(lower_bound=0.0)
    total = float(driver.sum())
    for abc, share, own in zip(joined["abc"], joined["cum_share"], driver, strict=True):
        if own <= 0 or total <= 0:
            assert abc == "C"
            continue
        before = share - own / total
        if min(abs(before - THRESHOLDS.a), abs(before - THRESHOLDS.b)) < 1e-9:
            continue
        assert (abc == "A") == (before < THRESHOLDS.a)
        assert (abc in ("A", "B")) == (before < THRESHOLDS.b)
    # zero demand is C with cum_share 1
    zero = result.join(features, on="entity_key").filter(pl.col("revenue") == 0)
    assert zero["abc"].eq("C").all() and zero["cum_share"].eq(1.0).all()
    # cum_share is monotone in the driver: bigger revenue never has a larger share
    ordered = result.join(features, on="entity_key").sort(
        ["revenue", "entity_key"], descending=[True, False]
    )
    shares = ordered.filter(pl.col("revenue") > 0)["cum_share"].to_list()
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(shares))  # float noise

    # permuting the rows changes nothing; re-running changes nothing
    shuffled = features.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 10**6))  # type: ignore[attr-defined]
    assert_frame_equal(classify(SCHEME, shuffled), result)
    assert_frame_equal(classify(SCHEME, features), result)
    assert (result["boundary_distance"] >= 0).all()
