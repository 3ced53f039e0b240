"""The impact tables (pure): pending segment changes joined to their customers' account
manager, region and trailing revenue, added up per account manager and per region.

An upgrade moves a customer to a better-ranked segment (rank 1 is the top); a downgrade to a
worse one; a first assignment or an unranked segment counts as neither. Revenue is in cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

NO_MANAGER: Final = "(no account manager)"
NO_REGION: Final = "(no region)"
ACCOUNTS_LISTED: Final = 20


@dataclass(frozen=True)
class ImpactTables:
    """``moves``: one row per pending change with customer, manager, region, direction and
    revenue; ``by_manager`` / ``by_region``: per key, ``accounts``, ``upgrades``,
    ``downgrades``, ``revenue`` and the first account codes."""

    moves: pl.DataFrame
    by_manager: pl.DataFrame
    by_region: pl.DataFrame


def _direction(ranks: dict[tuple[str, str], int]) -> pl.Expr:
    def rank(side: str) -> pl.Expr:
        key = pl.concat_str([pl.col("scheme_code"), pl.col(side)], separator="\x1f")
        mapping = {f"{scheme}\x1f{segment}": r for (scheme, segment), r in ranks.items()}
        return key.replace_strict(mapping, default=None, return_dtype=pl.Int64)

    return (
        pl.when(rank("to_segment") < rank("from_segment"))
        .then(pl.lit("up"))
        .when(rank("to_segment") > rank("from_segment"))
        .then(pl.lit("down"))
        .otherwise(pl.lit("other"))
    )


def _per(moves: pl.DataFrame, key: str) -> pl.DataFrame:
    return (
        moves.group_by(key)
        .agg(
            pl.col("customer_code").n_unique().alias("accounts"),
            (pl.col("direction") == "up").sum().alias("upgrades"),
            (pl.col("direction") == "down").sum().alias("downgrades"),
            pl.col("revenue").sum().alias("revenue"),
            pl.col("customer_code").unique().sort().head(ACCOUNTS_LISTED).alias("customers"),
        )
        .sort(["revenue", key], descending=[True, False], nulls_last=True)
    )


def impact_tables(
    changes: pl.DataFrame,
    customers: pl.DataFrame,
    revenue: pl.DataFrame,
    ranks: dict[tuple[str, str], int],
) -> ImpactTables:
    """``changes``: ``ref, customer_code, scheme_code, from_segment, to_segment``;
    ``customers``: ``customer_code, name, region, account_manager_email``; ``revenue``:
    ``customer_code, revenue`` (cents, trailing period)."""
    moves = (
        changes.join(customers, on="customer_code", how="left")
        .join(revenue, on="customer_code", how="left")
        .with_columns(
            pl.col("account_manager_email").fill_null(NO_MANAGER).alias("account_manager"),
            pl.col("region").fill_null(NO_REGION),
            pl.col("revenue").fill_null(0),
            _direction(ranks).alias("direction"),
        )
        .sort("customer_code", "ref")
    )
    return ImpactTables(moves, _per(moves, "account_manager"), _per(moves, "region"))


def service_changes(before: dict[str, object] | None, after: dict[str, object] | None) -> list[str]:
    """What a customer would see change, one line per entitlement: ``name: old → new``."""
    old, new = before or {}, after or {}
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(
                f"{key.replace('_', ' ')}: {_shown(old.get(key))} → {_shown(new.get(key))}"
            )
    return lines


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "; ".join(_shown(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)
