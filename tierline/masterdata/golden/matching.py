"""Matching source records against golden rows (pure, vectorised in polars): a sure match on
an identifier, a strong one on name, group and detail, an ambiguous one for a data steward, or
none; and the codes of the golden rows that unmatched records start."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tierline.masterdata.golden.normalise import normalise_code, normalise_name
from tierline.masterdata.golden.rules import MatchRules

EXACT, STRONG, AMBIGUOUS = 1.0, 0.95, 0.7
MAX_CANDIDATES = 5  # reviews queued per record when many golden rows look alike
CODE_MAX = 100


def normalise(frame: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    """Match frame (key, name, grp, detail, identifiers) -> comparable values."""
    text = frame.select(pl.all().cast(pl.String))
    group = normalise_code(pl.col("grp")) if rules.group_label else pl.lit("*", dtype=pl.String)
    detail = (
        normalise_code(pl.col("detail"))
        if rules.detail_is_code
        else normalise_name(pl.col("detail"), strip_legal_forms=False)
    )
    return text.select(
        pl.col("key"),
        normalise_name(pl.col("name"), rules.strip_legal_forms).alias("name"),
        group.alias("grp"),
        detail.alias("detail"),
        *[i.normalise(pl.col(i.column)).alias(i.column) for i in rules.identifiers],
    )


_PAIR = {"key": pl.String, "code": pl.String, "score": pl.Float64, "reasons": pl.String}


@dataclass(frozen=True)
class MatchResult:
    links: pl.DataFrame  # key, code, score, reasons: link automatically
    reviews: pl.DataFrame  # key, code, score, reasons: ask a data steward
    unmatched: pl.DataFrame  # normalised source rows with no candidate at all


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema=_PAIR)


def _exact(src: pl.DataFrame, gold: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    found = [
        src.filter(pl.col(i.column).is_not_null())
        .select("key", i.column)
        .join(
            gold.filter(pl.col(i.column).is_not_null()).select(
                pl.col("key").alias("code"), i.column
            ),
            on=i.column,
        )
        .select(
            "key", "code", pl.lit(rank).alias("rank"), pl.lit(f"same {i.label}").alias("reasons")
        )
        for rank, i in enumerate(rules.identifiers)
    ]
    if not found:
        return _empty_pairs()
    # A duplicate among the golden rows themselves: take the first identifier, then the
    # lowest code, so the outcome does not depend on row order.
    return (
        pl.concat(found)
        .sort("key", "rank", "code")
        .unique("key", keep="first", maintain_order=True)
        .select("key", "code", pl.lit(EXACT).alias("score"), "reasons")
    )


def _conflict(rules: MatchRules) -> pl.Expr:
    tests = [
        pl.col(i.column).is_not_null()
        & pl.col(f"{i.column}_g").is_not_null()
        & (pl.col(i.column) != pl.col(f"{i.column}_g"))
        for i in rules.identifiers
    ]
    return pl.any_horizontal(tests) if tests else pl.lit(False)


def _name_pairs(rest: pl.DataFrame, gold: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    """Candidate pairs with equal name and group, minus those whose identifiers conflict."""
    usable = pl.col("name").is_not_null() & pl.col("grp").is_not_null()
    right = gold.filter(usable).rename(
        {c: ("code" if c == "key" else f"{c}_g") for c in gold.columns}
    )
    pairs = rest.filter(usable).join(right, left_on=["name", "grp"], right_on=["name_g", "grp_g"])
    return pairs.filter(~_conflict(rules)).with_columns(
        (pl.col("detail").is_not_null() & (pl.col("detail") == pl.col("detail_g"))).alias(
            "same_detail"
        ),
        (pl.col("detail").is_null() | pl.col("detail_g").is_null()).alias("detail_missing"),
    )


def _reason_prefix(rules: MatchRules) -> str:
    parts = [f"same {rules.name_label}"]
    if rules.group_label:
        parts.append(f"same {rules.group_label}")
    return "|".join(parts)


def match_records(sources: pl.DataFrame, golden: pl.DataFrame, rules: MatchRules) -> MatchResult:
    """Decide, for every source record, a link, review candidates, or nothing.

    Reasons are ``|``-joined here and turned into a JSON list by the database.
    """
    src, gold = normalise(sources, rules), normalise(golden, rules)
    exact = _exact(src, gold, rules)
    rest = src.join(exact.select("key"), on="key", how="anti")
    pairs = _name_pairs(rest, gold, rules)
    prefix = _reason_prefix(rules)
    strong = (
        pairs.filter(pl.col("same_detail"))
        .sort("key", "code")
        .unique("key", keep="first", maintain_order=True)
        .select(
            "key",
            "code",
            pl.lit(STRONG).alias("score"),
            pl.lit(f"{prefix}|same {rules.detail_label}").alias("reasons"),
        )
    )
    detail = rules.detail_label
    reviews = (
        pairs.filter(~pl.col("same_detail"))
        .join(strong.select("key"), on="key", how="anti")
        .sort("key", "code")
        .group_by("key", maintain_order=True)
        .head(MAX_CANDIDATES)
        .select(
            "key",
            "code",
            pl.lit(AMBIGUOUS).alias("score"),
            pl.when(pl.col("detail_missing"))
            .then(pl.lit(f"{prefix}|{detail} missing"))
            .otherwise(pl.lit(f"{prefix}|{detail} differs"))
            .alias("reasons"),
        )
    )
    unmatched = rest.join(strong.select("key"), on="key", how="anti").join(
        reviews.select("key"), on="key", how="anti"
    )
    return MatchResult(pl.concat([exact, strong]), reviews, unmatched)


def plan_new_codes(
    unmatched: pl.DataFrame, taken: pl.Series, source_system: str, rules: MatchRules
) -> pl.DataFrame:
    """(key, leader, code) for records that start golden rows: records of the batch sharing
    an identifier, or name + group + detail, follow one leader (the lowest key).

    The code is the leader's source key when free, else ``<SOURCE>-<key>``; should that be
    taken or too long too, a hash keeps it unique.
    """
    if unmatched.is_empty():
        return pl.DataFrame(schema={"key": pl.String, "leader": pl.String, "code": pl.String})
    same_thing = [
        pl.concat_str([pl.lit(f"{i.column}:"), pl.col(i.column)]) for i in rules.identifiers
    ]
    same_thing.append(
        pl.concat_str([pl.lit("n:"), "name", pl.lit("|"), "grp", pl.lit("|"), "detail"])
    )
    same_thing.append(pl.concat_str([pl.lit("k:"), "key"]))
    grouped = unmatched.with_columns(pl.coalesce(same_thing).alias("group")).with_columns(
        pl.col("key").min().over("group").alias("leader")
    )
    prefix = source_system.upper()
    leaders = grouped.filter(pl.col("key") == pl.col("leader")).select("key")
    free = ~pl.col("key").is_in(taken.implode())
    firsts = leaders.filter(free)["key"]
    fallback = pl.concat_str([pl.lit(f"{prefix}-"), pl.col("key")])
    hashed = pl.concat_str(
        [
            pl.lit(f"{prefix}-"),
            pl.col("key").str.slice(0, 30),
            pl.lit("-"),
            pl.col("key").hash(seed=20_240_601).cast(pl.String),
        ]
    )
    clash = (
        fallback.is_in(taken.implode())
        | fallback.is_in(firsts.implode())
        | (fallback.str.len_chars() > CODE_MAX)
    )
    coded = leaders.with_columns(
        pl.when(free).then(pl.col("key")).when(clash).then(hashed).otherwise(fallback).alias("code")
    )
    return grouped.select("key", "leader").join(
        coded.rename({"key": "leader"}), on="leader", how="inner"
    )
