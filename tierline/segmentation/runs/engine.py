"""Classification: ABC and XYZ classes, lifecycle exceptions, then the decision tree, vectorised.

The scheme is compiled once into flat "decisions" (exceptions first, then every leaf of the
tree with subtrees inlined, each a conjunction of its enclosing conditions) and evaluated as a
single ``pl.when(...).then(index)`` chain: first match wins, as in the document, with no
Python per row.

Decided here, relied on by runs:
- ABC ranks the driver (negative values count as 0) descending, ties by ``entity_key``
  ascending; ``cum_share`` is the running share including the entity. An entity is decided by
  the share *before* it: A iff ``before < A``, else B iff ``before < B``, else C, compared
  exactly (integer units of 1/10,000 against the thresholds as written: see ``_with_abc``).
  Entities with a zero driver (or every entity, when the total is zero) get
  ``cum_share = 1.0`` and class C.
- XYZ: ``cv <= X`` is X, ``<= Y`` is Y, else Z; no demand (``cv`` null) is Z.
- Attributes are cast to their declared type; a missing column is all null. Text attributes
  are trimmed and lower-cased, and compared with values normalised the same way (empty text
  is missing): ``region in [EMEA]`` matches ``emea``. Defaults replace nulls of attributes the
  scheme uses, and each replacement is listed in ``defaults_used``. A test on a value that is
  still null is false (see ``conditions``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from tierline.segmentation.runs.features import EXACT_UNITS
from tierline.segmentation.schemes.conditions import (
    Condition,
    condition_expr,
    is_text,
    lifecycle_attribute,
    normalise_column,
    polars_type,
    referenced_attributes,
    resolve_attribute,
    text_value,
)
from tierline.segmentation.schemes.lines import join_path
from tierline.segmentation.schemes.model import Rule, Scheme

ENGINE_VERSION = "1.1.0"
DRIVER_UNITS = EXACT_UNITS  # ABC compares drivers in 1/10,000: the order-line quantity scale
_MAX_DRIVER = 1e30  # far beyond any real total; keeps the integer units finite
COMPUTED = frozenset({"abc", "xyz"})
OUTPUT_COLUMNS = (
    "entity_key",
    "segment",
    "abc",
    "xyz",
    "cum_share",
    "cv",
    "source",
    "rule",
    "defaults_used",
    "boundary_distance",
    "max_period_share",
)


@dataclass(frozen=True)
class Decision:
    """One way an entity can be placed: when ``condition`` holds (None = always)."""

    condition: pl.Expr | None
    segment: str
    source: str  # "exception" | "rule"
    rule: str


def classify(scheme: Scheme, features: pl.DataFrame) -> pl.DataFrame:
    """One row per entity, sorted by ``entity_key``, with its segment and why."""
    decisions = compile_decisions(scheme)
    frame = _prepared(scheme, features)
    outcomes = pl.LazyFrame(
        {
            "_decision": pl.Series(range(len(decisions)), dtype=pl.UInt32),
            "segment": [d.segment for d in decisions],
            "source": [d.source for d in decisions],
            "rule": [d.rule for d in decisions],
        }
    )
    return (
        frame.select(
            "entity_key",
            _decision_index(decisions).alias("_decision"),
            "abc",
            "xyz",
            "cum_share",
            "cv",
            "defaults_used",
            _boundary_distance(scheme).alias("boundary_distance"),
            "max_period_share",
        )
        .join(outcomes, on="_decision", how="left", maintain_order="left")
        .select(OUTPUT_COLUMNS)
        .collect()
    )


def _prepared(scheme: Scheme, features: pl.DataFrame) -> pl.LazyFrame:
    """The features sorted by key with the used attributes typed (text normalised), the
    defaults filled (and recorded in ``defaults_used``), ABC and XYZ: what rules test."""
    used = used_attributes(scheme)
    if not features["entity_key"].is_sorted():
        features = features.sort("entity_key")
    frame = features.lazy().with_columns(_typed_attributes(scheme, features, used))
    frame = _with_defaults_used(scheme, frame, used).with_columns(_defaulted(scheme, used))
    frame = _with_abc(scheme, features, frame)
    return _with_xyz(scheme, frame)


# -- what a dry run warns about ------------------------------------------------------------

SEEN_SHOWN = 8


def diagnose(scheme: Scheme, features: pl.DataFrame) -> list[str]:
    """Warnings for a scheme on real data (CPU; call in a thread): each rule condition that
    holds for no entity at all, and each text value a condition or an exception's map names
    that no entity has (compared trimmed and case-insensitively, after defaults)."""
    if features.is_empty():
        return []
    texts = text_attributes(scheme)
    whens = list(_conditions(scheme))
    values: list[tuple[str, str, str]] = []  # (path, attribute, value as written)
    for path, condition in whens:
        values += _text_values(condition, path, texts)
    for i, exception in enumerate(scheme.exceptions):
        if exception.by in texts and exception.mapping:
            values += [(f"exceptions[{i}].map.{k}", exception.by, k) for k in exception.mapping]
    probes = [condition_expr(c, texts).sum().alias(f"w{i}") for i, (_, c) in enumerate(whens)] + [
        pl.col(attr).eq(pl.lit(text_value(value))).fill_null(False).any().alias(f"v{i}")
        for i, (_, attr, value) in enumerate(values)
    ]
    if not probes:
        return []
    frame = _prepared(scheme, features)
    found = frame.select(probes).collect().row(0, named=True)
    warnings = [
        f"{path}: matches no entity in the data"
        for i, (path, _) in enumerate(whens)
        if not found[f"w{i}"]
    ]
    missing = [
        (path, attr, value) for i, (path, attr, value) in enumerate(values) if not found[f"v{i}"]
    ]
    if missing:
        attrs = sorted({attr for _, attr, _ in missing})
        seen = (
            frame.select(
                [
                    pl.col(a)
                    .drop_nulls()
                    .value_counts(sort=True)
                    .head(SEEN_SHOWN)
                    .implode()
                    .alias(a)
                    for a in attrs
                ]
            )
            .collect()
            .row(0, named=True)
        )
        for path, attr, value in missing:
            common = ", ".join(str(v[attr]) for v in seen[attr]) or "no value at all"
            warnings.append(
                f"{path}: no entity has {attr} {value!r} (compared trimmed and ignoring case; "
                f"most common: {common})"
            )
    return warnings


def _conditions(scheme: Scheme) -> Iterator[tuple[str, Condition]]:
    """Every rule's ``when`` with its path: tree, nested rules, subtrees."""

    def visit(rules: list[Rule], path: str) -> Iterator[tuple[str, Condition]]:
        for i, rule in enumerate(rules):
            rule_path = join_path(path, i)
            if rule.when is not None:
                yield join_path(rule_path, "when"), rule.when
            yield from visit(rule.then or [], join_path(rule_path, "then"))

    yield from visit(scheme.tree, "tree")
    for name, rules in scheme.subtrees.items():
        yield from visit(rules, join_path("subtrees", name))


def _text_values(
    condition: Condition, path: str, texts: frozenset[str]
) -> list[tuple[str, str, str]]:
    """``(path, attribute, value)`` of each text value an eq/ne/in/not_in leaf names."""
    found: list[tuple[str, str, str]] = []
    if isinstance(condition.attr, str) and condition.attr in texts:
        op, value = condition.operators()[0]
        if op in ("eq", "ne") and isinstance(value, str):
            found.append((join_path(path, op), condition.attr, value))
        elif op in ("in", "not_in") and isinstance(value, list):
            found += [
                (join_path(join_path(path, op), j), condition.attr, v)
                for j, v in enumerate(value)
                if isinstance(v, str)
            ]
    for suffix, child in condition.children():
        found += _text_values(child, join_path(path, suffix), texts)
    return found


def _decision_index(decisions: list[Decision]) -> pl.Expr:
    """Index of the first decision whose condition holds (the last one has none)."""
    conditional = [(i, d.condition) for i, d in enumerate(decisions) if d.condition is not None]
    fallback = pl.lit(len(decisions) - 1, pl.UInt32)
    if not conditional:
        return fallback
    first_i, first_c = conditional[0]
    chain: Any = pl.when(first_c).then(pl.lit(first_i, pl.UInt32))
    for i, condition in conditional[1:]:
        chain = chain.when(condition).then(pl.lit(i, pl.UInt32))
    result: pl.Expr = chain.otherwise(fallback)
    return result


# -- compiling the document --------------------------------------------------------------


def compile_decisions(scheme: Scheme) -> list[Decision]:
    """Exceptions, then the tree's leaves in document order, subtrees inlined at each goto."""
    texts = text_attributes(scheme)
    decisions = _exception_decisions(scheme, texts)
    decisions += _rule_decisions(scheme, scheme.tree, "tree", None, texts)
    return decisions


def text_attributes(scheme: Scheme) -> frozenset[str]:
    """The used attributes compared as normalised text (see ``conditions``)."""
    has_xyz = scheme.classifiers.xyz is not None
    found = set()
    for name in used_attributes(scheme):
        attribute = resolve_attribute(scheme.entity, name, has_xyz)
        if attribute is not None and name not in COMPUTED and is_text(attribute):
            found.add(name)
    return frozenset(found)


def _exception_decisions(scheme: Scheme, texts: frozenset[str]) -> list[Decision]:
    lifecycle = pl.col(lifecycle_attribute(scheme.entity))
    decisions = []
    for i, exception in enumerate(scheme.exceptions):
        path = f"exceptions[{i}]"
        in_lifecycle = lifecycle.is_not_null() & (lifecycle == exception.lifecycle)
        if exception.segment is not None:
            decisions.append(Decision(in_lifecycle, exception.segment, "exception", path))
            continue
        assert exception.by is not None and exception.mapping is not None
        by = pl.col(exception.by).cast(pl.String)
        for value, segment in exception.mapping.items():
            key = text_value(value) if exception.by in texts else value
            matched = in_lifecycle & by.is_not_null() & (by == key)
            decisions.append(Decision(matched, segment, "exception", path))
        if exception.otherwise is not None:
            decisions.append(Decision(in_lifecycle, exception.otherwise, "exception", path))
    return decisions


def _rule_decisions(
    scheme: Scheme,
    rules: list[Rule],
    path: str,
    guard: pl.Expr | None,
    texts: frozenset[str],
) -> list[Decision]:
    decisions: list[Decision] = []
    for i, rule in enumerate(rules):
        rule_path = join_path(path, i)
        condition = guard
        if rule.when is not None:
            own = condition_expr(rule.when, texts)
            condition = own if guard is None else guard & own
        if rule.segment is not None:
            decisions.append(Decision(condition, rule.segment, "rule", rule_path))
        elif rule.then is not None:
            then = join_path(rule_path, "then")
            decisions += _rule_decisions(scheme, rule.then, then, condition, texts)
        elif rule.goto is not None:
            target = join_path("subtrees", rule.goto)
            subtree = scheme.subtrees[rule.goto]
            decisions += _rule_decisions(scheme, subtree, target, condition, texts)
        if rule.when is None:
            break  # validation makes this the last rule of its list; stop defensively anyway
    return decisions


def used_attributes(scheme: Scheme) -> list[str]:
    """Attributes the tree, subtrees and exceptions read, in first-use order."""
    found: list[str] = []

    def visit(rules: list[Rule]) -> None:
        for rule in rules:
            if rule.when is not None:
                found.extend(referenced_attributes(rule.when))
            visit(rule.then or [])

    if scheme.exceptions:
        found.append(lifecycle_attribute(scheme.entity))
        found.extend(e.by for e in scheme.exceptions if e.by is not None)
    visit(scheme.tree)
    for rules in scheme.subtrees.values():
        visit(rules)
    return list(dict.fromkeys(found))


# -- attributes and defaults -------------------------------------------------------------


def _typed_attributes(scheme: Scheme, features: pl.DataFrame, used: list[str]) -> list[pl.Expr]:
    """Used attribute columns cast to their type; a missing column becomes all null."""
    has_xyz = scheme.classifiers.xyz is not None
    exprs = []
    for name in used:
        attribute = resolve_attribute(scheme.entity, name, has_xyz)
        if name in COMPUTED or attribute is None:
            continue
        dtype = polars_type(attribute)
        source = pl.col(name) if name in features.columns else pl.lit(None)
        typed = normalise_column(source) if is_text(attribute) else source.cast(dtype)
        exprs.append(typed.alias(name))
    return exprs


def _with_defaults_used(scheme: Scheme, frame: pl.LazyFrame, used: list[str]) -> pl.LazyFrame:
    """Add ``defaults_used``: the used attributes whose null a default replaced, per entity.

    Building a list per row is slow in polars, so each row gets a bit mask of its nulls and
    the lists come from a small table of every possible mask (2^k rows for k defaults).
    """
    names = [name for name in used if name in scheme.defaults]
    if not names:
        return frame.with_columns(pl.lit([], pl.List(pl.String)).alias("defaults_used"))
    if len(names) > _MASK_LIMIT:
        flags = [pl.when(pl.col(n).is_null()).then(pl.lit(n)) for n in names]
        return frame.with_columns(pl.concat_list(flags).list.drop_nulls().alias("defaults_used"))
    bits = [pl.col(n).is_null().cast(pl.UInt32) * (1 << i) for i, n in enumerate(names)]
    masks = range(1 << len(names))
    table = pl.LazyFrame(
        {
            "_mask": pl.Series(masks, dtype=pl.UInt32),
            "defaults_used": [[n for i, n in enumerate(names) if m >> i & 1] for m in masks],
        },
        schema={"_mask": pl.UInt32, "defaults_used": pl.List(pl.String)},
    )
    return (
        frame.with_columns(pl.sum_horizontal(bits).alias("_mask"))
        .join(table, on="_mask", how="left", maintain_order="left")
        .drop("_mask")
    )


_MASK_LIMIT = 10


def _defaulted(scheme: Scheme, used: list[str]) -> list[pl.Expr]:
    texts = text_attributes(scheme)
    return [
        pl.col(name).fill_null(pl.lit(text_value(value) if name in texts else value)).alias(name)
        for name in used
        if name in scheme.defaults
        for value in [scheme.defaults[name]]
    ]


# -- classes -----------------------------------------------------------------------------


def driver_units(driver: str) -> pl.Expr:
    """The ABC driver in exact integer units of 1/10,000 (negative and missing count as 0)."""
    value = pl.col(driver).cast(pl.Float64).fill_nan(None).fill_null(0.0)
    scaled = (value.clip(0.0, _MAX_DRIVER) * DRIVER_UNITS).round(0)
    return scaled.cast(pl.Int128)


def share_cutoff(threshold: float, total: int) -> int:
    """The smallest whole number of units ``c`` such that ``before < c`` holds exactly when
    ``before / total < threshold``; the threshold is read as the decimal it is written as
    (0.8 is 4/5, not the binary float just below it)."""
    exact = Fraction(Decimal(repr(threshold))) * total
    return math.ceil(exact)


def _with_abc(scheme: Scheme, features: pl.DataFrame, frame: pl.LazyFrame) -> pl.LazyFrame:
    """ABC class and cum_share, on a frame already sorted by ``entity_key``.

    Only the driver is put in rank order (ties by key) and the running total is scattered
    back, so the wide frame is never re-sorted. Class boundaries are decided on integers: the
    running total in units (:func:`driver_units`) against each threshold's exact cut-off in
    the same units (:func:`share_cutoff`), so a share that is exactly 0.80 is 0.80, never
    0.7999999999999999. ``cum_share`` (a float) is for people and the hysteresis band only.
    """
    abc = scheme.classifiers.abc
    units = driver_units(abc.driver)
    total = int(features.select(units.sum()).item() or 0) if features.height else 0
    cut_a = pl.lit(share_cutoff(abc.thresholds.a, total), pl.Int128)
    cut_b = pl.lit(share_cutoff(abc.thresholds.b, total), pl.Int128)
    order = pl.arg_sort_by(["_driver", "entity_key"], descending=[True, False])
    running = pl.col("_driver").gather("_order").cum_sum().gather(pl.col("_order").arg_sort())
    positive = (pl.col("_driver") > 0) & pl.lit(total > 0)
    cum_share = (
        pl.when(positive)
        .then(pl.col("_running").cast(pl.Float64) / max(total, 1))
        .otherwise(pl.lit(1.0))
    )
    # The entity that crosses a threshold belongs to the class it completes: its class is
    # decided by the total *before* it, so the largest customer is always A even when it alone
    # makes more than the A threshold.
    before = pl.col("_running") - pl.col("_driver")
    classes = (
        pl.when(~positive)
        .then(pl.lit("C"))
        .when(before < cut_a)
        .then(pl.lit("A"))
        .when(before < cut_b)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C"))
    )
    return (
        frame.with_columns(units.alias("_driver"))
        .with_columns(order.alias("_order"))
        .with_columns(running.alias("_running"))
        .with_columns(cum_share.alias("cum_share"), classes.alias("abc"))
    )


def _with_xyz(scheme: Scheme, frame: pl.LazyFrame) -> pl.LazyFrame:
    xyz = scheme.classifiers.xyz
    if xyz is None:
        return frame.with_columns(pl.lit(None, pl.String).alias("xyz"))
    cv = pl.col("cv")
    classes = (
        pl.when(cv.is_null())
        .then(pl.lit("Z"))
        .when(cv <= xyz.thresholds.x)
        .then(pl.lit("X"))
        .when(cv <= xyz.thresholds.y)
        .then(pl.lit("Y"))
        .otherwise(pl.lit("Z"))
    )
    return frame.with_columns(classes.alias("xyz"))


def _boundary_distance(scheme: Scheme) -> pl.Expr:
    """Distance to the nearest class boundary: ABC in share points, XYZ relative to the cut."""
    t = scheme.classifiers.abc.thresholds
    share = pl.col("cum_share")
    distances = [(share - t.a).abs(), (share - t.b).abs()]
    xyz = scheme.classifiers.xyz
    if xyz is not None:
        for cut in (xyz.thresholds.x, xyz.thresholds.y):
            distances.append((pl.col("cv") - cut).abs() / cut)  # null cv: ignored by min
    return pl.min_horizontal(distances)


__all__ = ["ENGINE_VERSION", "OUTPUT_COLUMNS", "classify", "compile_decisions", "diagnose"]
