"""Customers as other source systems see them: drifting names, reformatted identifiers, true
duplicates and near-match decoys, with the truth of which is which."""

from __future__ import annotations

import numpy as np
import polars as pl

from tierline.demo.synthetic.customers import Customers
from tierline.demo.synthetic.draws import Ints, Rng, concat, with_nulls, word_series
from tierline.demo.synthetic.reference import (
    GLOBAL,
    PARENT,
    SHIP_TO,
    SOLD_TO,
    SOURCE_RELATIONS,
    SOURCE_SYSTEMS,
    postal_codes,
)
from tierline.demo.synthetic.scales import Calendar, recent_timestamps


def _source_membership(rng: Rng, cust: Customers) -> tuple[Ints, Ints]:
    """Which customers each system holds: CRM the accounts, WMS the sites, ERP-FI the entities."""
    kind = cust.kind
    ship_point = (kind == SHIP_TO) | ((kind == SOLD_TO) & ~cust.has_children)
    shares = (
        np.select([kind == SOLD_TO, kind == SHIP_TO, kind == PARENT], [0.95, 0.6, 0.5], 0.0),
        np.where(ship_point, np.where(kind == SHIP_TO, 0.9, 0.8), 0.0),
        np.select([kind == SOLD_TO, kind == PARENT, kind == GLOBAL], [0.9, 0.8, 0.5], 0.0),
    )
    rows = [np.flatnonzero(rng.random(kind.size) < share) for share in shares]
    system = np.repeat(np.arange(len(SOURCE_SYSTEMS)), [r.size for r in rows])
    return np.concatenate(rows).astype(np.int64), system.astype(np.int64)


def _vary_names(names: pl.Series, variant: Ints) -> pl.Series:
    """How the same name drifts between systems: case, punctuation, legal forms, spacing."""
    name, v = pl.col("name"), pl.col("v")
    expr = (
        pl.when(v == 1)
        .then(name.str.to_uppercase())
        .when(v == 2)
        .then(name.str.replace_all(r"[.,]", ""))
        .when(v == 3)
        .then(name.str.to_titlecase())  # GmbH -> Gmbh, S.p.A. -> S.P.A.
        .when(v == 4)
        .then(name.str.replace(" ", "  ", literal=True))
        .when(v == 5)
        .then(pl.concat_str([pl.lit(" "), name, pl.lit(" ")]))
        .when(v == 6)
        .then(name.str.to_lowercase())
        .when(v == 7)
        .then(
            name.str.replace_all(" - ", " ", literal=True)
            .str.replace("GmbH", "G.m.b.H.", literal=True)
            .str.replace("Ltd", "Limited", literal=True)
            .str.replace("Inc.", "Incorporated", literal=True)
        )
        .otherwise(name)
    )
    return pl.DataFrame({"name": names, "v": variant}).select(expr.alias("name")).to_series()


def _vary_identifiers(rng: Rng, frame: pl.DataFrame) -> pl.DataFrame:
    """Identifiers go missing or get reformatted (no country prefix, spaces, dashed DUNS),
    each independently of the others."""
    u = rng.random((3, frame.height))
    tax, duns, postal = pl.col("tax_id"), pl.col("duns"), pl.col("postal_code")
    t, d, p = pl.col("_t"), pl.col("_d"), pl.col("_p")
    dashed = pl.concat_str(
        [duns.str.slice(0, 2), duns.str.slice(2, 3), duns.str.slice(5)], separator="-"
    )
    spaced = pl.concat_str([tax.str.slice(0, 2), pl.lit(" "), tax.str.slice(2)])
    return (
        frame.with_columns(_t=u[0], _d=u[1], _p=u[2])
        .with_columns(
            pl.when(t < 0.08)
            .then(None)
            .when(t < 0.18)
            .then(tax.str.slice(2))
            .when(t < 0.28)
            .then(spaced)
            .otherwise(tax)
            .alias("tax_id"),
            pl.when(d < 0.12).then(None).when(d < 0.22).then(dashed).otherwise(duns).alias("duns"),
            pl.when(p < 0.05)
            .then(None)
            .when(p < 0.20)
            .then(postal.str.replace_all(" ", "", literal=True))
            .otherwise(postal)
            .alias("postal_code"),
        )
        .drop("_t", "_d", "_p")
    )


def _different_postal(rng: Rng, country: Ints, original: pl.Series) -> pl.Series:
    """Fresh postal codes guaranteed to differ from ``original`` (redrawn where they collide)."""
    fresh = postal_codes(rng, country)
    for _ in range(10):  # a collision is one in ~10^4; ten rounds are plenty
        same = (fresh == original).fill_null(False).to_numpy()
        if not same.any():
            break
        rows = np.flatnonzero(same)
        fresh = fresh.scatter(rows, postal_codes(rng, country[rows]))
    return fresh


def _source_rows(rng: Rng, cust: Customers) -> tuple[Ints, Ints, Ints]:
    """(customer row, system, relation) of every source record, duplicates and decoys included."""
    who, system = _source_membership(rng, cust)
    # ~3% true duplicates: the same company entered again under another key, often elsewhere.
    dup = np.flatnonzero(rng.random(who.size) < 0.03)
    dup_system = rng.integers(0, len(SOURCE_SYSTEMS), dup.size)
    # A few decoys: same name and country as a real customer, but another company elsewhere.
    candidates = np.flatnonzero(cust.kind >= SOLD_TO)
    near = rng.choice(candidates, size=max(3, who.size // 200), replace=False)
    near_system = rng.integers(0, len(SOURCE_SYSTEMS), near.size)
    rows = np.concatenate([who, who[dup], near])
    systems = np.concatenate([system, dup_system, near_system])
    relation = np.repeat(np.arange(3), [who.size, dup.size, near.size])
    return rows.astype(np.int64), systems.astype(np.int64), relation.astype(np.int64)


def _source_keys(rng: Rng, system: Ints) -> pl.Series:
    """Keys numbered per system in random order: nothing lines up with the master codes."""
    number = np.empty(system.size, dtype=np.int64)
    for s in range(len(SOURCE_SYSTEMS)):
        rows = np.flatnonzero(system == s)
        number[rows] = rng.permutation(rows.size) + 1
    prefix = pl.Series(["CRM-", "WMS-", "FI-"]).gather(system)
    return concat([prefix, pl.Series(number).cast(pl.String).str.zfill(7)], "")


def make_sources(rng: Rng, cust: Customers, cal: Calendar) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows, system, relation = _source_rows(rng, cust)
    base = cust.frame.select("code", "name", "tax_id", "duns", "postal_code", "country")[rows]
    # Duplicates drift further than ordinary records; decoys keep the exact name.
    variant = np.where(
        rng.random(rows.size) < np.where(relation == 1, 0.9, 0.5), rng.integers(1, 8, rows.size), 0
    )
    variant[relation == 2] = 0
    base = base.with_columns(_vary_names(base["name"], variant))
    base = _vary_identifiers(rng, base)
    near = np.flatnonzero(relation == 2)
    postal = base["postal_code"].scatter(
        near, _different_postal(rng, cust.country[rows[near]], base["postal_code"].gather(near))
    )
    base = base.with_columns(
        postal,
        with_nulls(base["tax_id"], relation == 2),
        with_nulls(base["duns"], relation == 2),
        pl.Series("source_system", word_series(SOURCE_SYSTEMS).gather(system)),
        pl.Series("source_key", _source_keys(rng, system)),
        pl.Series("source_updated_at", recent_timestamps(rng, cal, rows.size, 200)),
        pl.Series("relation", word_series(SOURCE_RELATIONS).gather(relation)),
        with_nulls(base["code"], relation == 2).alias("customer_code"),
    ).sort("source_system", "source_key")
    columns = ["source_system", "source_key", "name", "tax_id", "duns", "postal_code", "country"]
    sources = base.select(*columns, "source_updated_at")
    truth = base.select("source_system", "source_key", "customer_code", "relation")
    return sources, truth
