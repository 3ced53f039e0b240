"""Applying a customer or product file to golden records, and saying what happened to each
record's golden record: new, changed, unchanged, or left for a data steward; and which sent
values did not survive because another source holds the field.

An ERP file writes golden rows directly (it owns codes and hierarchy), then survivorship gives
back to other sources what they hold: a row the ERP "updated" may end as it was, so the counts
compare each golden row before and after, not what the upsert touched. Any other source only
records what it sent and is reconciled; its records' golden rows were created, changed by
survivorship, left as they were, or — not linked — wait for a steward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.golden.reconcile import reconcile
from tierline.masterdata.golden.rules import GoldenSpec, golden_spec
from tierline.masterdata.golden.survivorship import apply_survivorship, kept_fields
from tierline.masterdata.importing import apply
from tierline.masterdata.importing.entities import EntitySpec
from tierline.platform.frames import read_frame

# Not what a golden record says: bookkeeping the upsert rewrites whether or not anything
# changed (and the source timestamp survivorship recomputes from all sources).
_NOT_COMPARED = "'{id,created_at,updated_at,row_hash,source_updated_at}'::text[]"


@dataclass(frozen=True)
class GoldenOutcome:
    """Per record of the file: its golden record was ``inserted`` (new), ``updated`` (its
    values changed), ``unchanged``, or it was left ``to_steward``; ``kept``: records whose
    sent values lost to another source (see ``survivorship.kept``)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    to_steward: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)


async def _digests(conn: AsyncConnection, spec: GoldenSpec) -> pl.DataFrame:
    """``code, digest`` of the golden rows the staged records name (by their own key)."""
    return await read_frame(
        conn,
        f"SELECT t.{spec.key} AS code, md5((to_jsonb(t) - {_NOT_COMPARED})::text) AS digest "
        f"FROM {spec.table} t WHERE t.{spec.key} IN (SELECT {spec.key} FROM {apply.STAGE})",
        {"code": pl.String(), "digest": pl.String()},
    )


async def apply_erp(conn: AsyncConnection, spec: EntitySpec) -> GoldenOutcome:
    """Upsert the staged ERP rows into the golden table, keep them as the ERP's source
    records, and re-decide the rows other systems also describe: an ERP row must not undo
    what they won by survivorship (legal name from finance, tier from sales…)."""
    golden = golden_spec(spec.name)
    before = await _digests(conn, golden)
    await apply.upsert(conn, spec)
    await apply.record_sources(conn, spec, "erp")
    rows = await conn.exec_driver_sql(
        f"SELECT DISTINCT src.{golden.link} FROM {golden.sources} src "
        f"JOIN {apply.STAGE} s ON s.{golden.key} = src.{golden.link} "
        "WHERE src.source_system <> 'erp'"
    )
    shared = [str(r[0]) for r in rows]
    if shared:
        await apply_survivorship(conn, golden, shared)
    after = await _digests(conn, golden)
    compared = after.join(before, on="code", how="left", suffix="_before")
    new = compared["digest_before"].is_null()
    changed = ~new & (compared["digest"] != compared["digest_before"])
    inserted, updated = int(new.sum()), int(changed.sum())
    return GoldenOutcome(
        inserted=inserted,
        updated=updated,
        unchanged=compared.height - inserted - updated,
        kept=await kept_fields(conn, golden, "erp", shared),
    )


async def apply_source(
    conn: AsyncConnection, spec: EntitySpec, source_system: str
) -> GoldenOutcome:
    """Keep the staged records as ``source_system``'s and reconcile them into golden
    records; what became of each record's golden record."""
    golden = golden_spec(spec.name)
    await apply.record_sources(conn, spec, source_system)
    summary = await reconcile(conn, spec.name, source_system)
    links = await read_frame(
        conn,
        f"SELECT s.source_key AS key, s.{golden.link} AS code FROM {golden.sources} s "
        f"WHERE s.source_system = $1 AND s.source_key IN (SELECT {golden.key} FROM {apply.STAGE})",
        {"key": pl.String(), "code": pl.String()},
        source_system,
    )
    code = pl.col("code")
    counted = links.select(
        code.is_null().sum().alias("to_steward"),
        code.is_in(list(summary.created_codes)).sum().alias("inserted"),
        (code.is_in(list(summary.updated_codes)) & ~code.is_in(list(summary.created_codes)))
        .sum()
        .alias("updated"),
    ).row(0, named=True)
    linked = links.filter(code.is_not_null())["key"].to_list()
    inserted, updated, to_steward = (
        int(counted["inserted"]),
        int(counted["updated"]),
        int(counted["to_steward"]),
    )
    return GoldenOutcome(
        inserted=inserted,
        updated=updated,
        unchanged=links.height - inserted - updated - to_steward,
        to_steward=to_steward,
        kept=await kept_fields(conn, golden, source_system, linked),
    )
