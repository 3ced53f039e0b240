"""Recomputing an archived run: did the rules, the engine or an upgrade change the result?

The run's feature snapshot (sealed under the tenant's key, see ``snapshots``) is classified
again with the scheme version it recorded (by content hash, so an edited document cannot pass
for the original) and compared entity by entity with the results the run stored.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import select

from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.errors import DomainError
from tierline.platform.frames import read_frame
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import RunSnapshot, SegmentationRun
from tierline.segmentation.runs.engine import ENGINE_VERSION, classify
from tierline.segmentation.runs.service import results_digest
from tierline.segmentation.runs.snapshots import SnapshotUnreadable, open_snapshot
from tierline.segmentation.schemes.document import content_hash
from tierline.segmentation.schemes.store import published

EXAMPLES = 20
COMPARED = ("segment", "abc", "xyz", "source", "rule")


class RunNotVerifiable(DomainError):
    status_code = 404
    title = "Run cannot be verified"


@dataclass
class Verification:
    run_id: uuid.UUID
    matches: bool
    entities: int
    differing: int
    recorded_engine: str
    current_engine: str
    scheme_hash_ok: bool
    digest_ok: bool
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "run_id": str(self.run_id)}


async def verify_run(runtime: Runtime, tenant: TenantRef, run_id: uuid.UUID) -> Verification:
    async with tenant_session(tenant, runtime.databases) as session:
        run = await session.get(SegmentationRun, run_id)
        snapshot = (
            await session.execute(select(RunSnapshot).where(RunSnapshot.run_id == run_id))
        ).scalar_one_or_none()
        if run is None or run.status != "succeeded" or snapshot is None:
            raise RunNotVerifiable(f"run {run_id} has no archived snapshot (not a finished run)")
        found = await published(session, run.scheme_code, run.version)
        stored = await read_frame(
            await session.connection(),
            "SELECT entity_key, segment, abc, xyz, source, rule FROM run_results WHERE run_id = $1",
            {c: pl.String for c in ("entity_key", *COMPARED)},
            run_id,
        )
    codec = await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)
    try:
        features = await asyncio.to_thread(open_snapshot, codec, run_id, snapshot.features)
    except SnapshotUnreadable as exc:
        raise RunNotVerifiable(str(exc)) from None
    again = classify(found.scheme, features)
    scheme_ok = content_hash(found.scheme) == run.content_hash
    joined = stored.join(
        again.select("entity_key", *[pl.col(c).cast(pl.String) for c in COMPARED]),
        on="entity_key",
        how="full",
        suffix="_now",
        coalesce=True,
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_now")) for c in COMPARED])
    diff = joined.filter(differs)
    return Verification(
        run_id=run_id,
        matches=diff.is_empty() and scheme_ok,
        entities=joined.height,
        differing=diff.height,
        recorded_engine=run.engine_version,
        current_engine=ENGINE_VERSION,
        scheme_hash_ok=scheme_ok,
        digest_ok=results_digest(again) == snapshot.results_digest,
        examples=diff.head(EXAMPLES).to_dicts(),
    )
