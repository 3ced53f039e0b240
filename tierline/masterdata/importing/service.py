"""Running an import: read, validate everything, then apply all of it in one transaction or
nothing (the phases are in ``pipeline``); record the import, its errors, the feed's freshness and
an audit entry (``records``)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime as dt
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tierline.masterdata.importing import apply, records
from tierline.masterdata.importing.entities import EntitySpec, entity
from tierline.masterdata.importing.hooks import IMPORT_APPLIED, LinesImported
from tierline.masterdata.importing.pipeline import (
    ImportRejected,
    ImportRun,
    Progress,
    apply_rows,
    validate_and_stage,
)
from tierline.masterdata.importing.reader import (
    FileRejected,
    detect_format,
    has_control_bytes,
    utf8_copy,
)
from tierline.masterdata.importing.records import (
    FAILED_HERE,
    ImportResult,
    beat,
    record_applied,
    record_failure,
    record_rejection,
    record_start,
    update_feed,
)
from tierline.masterdata.profiles.definition import Profile
from tierline.platform.encryption import sealer
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection

# A file at least this large loading into an empty table (a first load) drops the table's
# plain indexes and rebuilds them at the end of the same transaction: one sort per index
# instead of a million index insertions. The table is locked (ACCESS EXCLUSIVE) until the
# import commits; it was empty, so readers wait instead of seeing nothing.
DEFER_INDEXES_BYTES = 16 << 20
# A file this large has chunks big enough to seal their money in the helper process: start
# it while the file is hashed.
HELPER_BYTES = 2 << 20
logger = logging.getLogger(__name__)


async def _nothing(_fraction: float, _message: str) -> None:
    return None


def file_digest(path: Path) -> tuple[str, int, bool]:
    """The file's SHA-256 and size, and whether any of its bytes is a control character other
    than tab and line breaks (in UTF-8 such a byte is only ever that character itself)."""
    digest, size, control = hashlib.sha256(), 0, False
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
            control = control or has_control_bytes(block)
    return digest.hexdigest(), size, control


def hash_key(codec: Any, tenant: TenantRef) -> bytes:
    """The row-hash key: derived from the tenant's active data key, never stored."""
    return bytes(codec.derive_key(b"tierline.row-hash.v2"))


def _control_free(profile: Profile) -> bool:
    """Whether text read with this profile can skip the control-character scan when the file
    has no control bytes: only UTF-8 files qualify (in other encodings a control character
    may come from another byte), and no value translation may bring one in."""
    if codecs.lookup(profile.options.encoding).name != "utf-8":
        return False
    translated = (v for mapping in profile.values.values() for v in mapping.values())
    return not any(has_control_bytes(v.encode()) for v in translated)


async def _load_codec(runtime: Runtime, tenant: TenantRef) -> Any:
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    return await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)


async def run_import(
    runtime: Runtime,
    tenant: TenantRef,
    entity_name: str,
    source: Path | pl.DataFrame,
    profile: Profile,
    actor: Actor,
    file_name: str | None = None,
    progress: Progress | None = None,
    job_id: str | None = None,
) -> ImportResult:
    """Import a file (or a frame from the API) into ``tenant``: all rows or none."""
    spec = entity(entity_name)
    report = progress or _nothing
    began = time.perf_counter()
    given = _Input.start(source, file_name, spec)
    began_at = dt.datetime.now(dt.UTC)
    try:
        import_id = await record_start(tenant, spec, profile, given.name, given.size, actor, job_id)
        async with _heartbeat(tenant, import_id):
            try:
                result = await _import(
                    runtime, tenant, spec, profile, actor, import_id, given, report, began
                )
            except Exception:
                # The import is not left "validating" for ever: failed, with a reason to show;
                # what went wrong goes to the log (and the job, if any, may try again).
                logger.exception("import %s of %s failed", import_id, spec.name)
                reason = FAILED_HERE.format(id=import_id)
                with contextlib.suppress(Exception):
                    await record_failure(tenant, import_id, reason, actor, spec)
                raise
    finally:
        await given.finish()
    if result.status == "applied" and spec.name == "order_lines":
        await _tell_applied(
            runtime,
            LinesImported(tenant, import_id, spec.name, began_at, result.inserted + result.updated),
        )
    return result


async def _tell_applied(runtime: Runtime, applied: LinesImported) -> None:
    """The hooks of the domains above hear of the committed import; a failing hook is logged
    and never turns an applied import into a failed one."""
    for hook in IMPORT_APPLIED:
        try:
            await hook(runtime, applied)
        except Exception:
            logger.exception("import %s: a hook after the import failed", applied.import_id)


@contextlib.asynccontextmanager
async def _heartbeat(tenant: TenantRef, import_id: uuid.UUID) -> AsyncIterator[None]:
    """Beat every ``HEARTBEAT_SECONDS`` while the import runs, so a process killed mid-import
    leaves an import the sweep recognises. Stopped by an event, never cancelled mid-query."""
    stop = asyncio.Event()

    async def beating() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), records.HEARTBEAT_SECONDS)
                return
            try:
                await beat(tenant, import_id)
            except Exception:  # a missed beat is no reason to stop the import
                logger.warning("import %s: heartbeat failed", import_id, exc_info=True)

    task = asyncio.ensure_future(beating())
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


@dataclass
class _Input:
    """What is imported (a file, or a frame from the API), its name and size, and its digest
    (SHA-256, size, control bytes), read in a thread beside the preparation and the first
    chunk rather than before them."""

    source: Path | pl.DataFrame
    name: str
    size: int
    digest: asyncio.Future[tuple[str, int, bool]]

    @classmethod
    def start(cls, source: Path | pl.DataFrame, file_name: str | None, spec: EntitySpec) -> _Input:
        if isinstance(source, pl.DataFrame):
            done: asyncio.Future[tuple[str, int, bool]] = asyncio.get_running_loop().create_future()
            size = int(source.estimated_size())
            done.set_result(("-", size, True))
            return cls(source, file_name or "api", size, done)
        size = source.stat().st_size
        if spec.money and size >= HELPER_BYTES:
            sealer.start_helper()
        digest = asyncio.ensure_future(asyncio.to_thread(file_digest, source))
        return cls(source, file_name or source.name, size, digest)

    async def sha(self) -> str:
        return (await self.digest)[0]

    async def control_scan(self, profile: Profile) -> bool:
        """Whether validation must look for control characters in the values."""
        _, _, control = await self.digest
        # An XLSX file's text is compressed: its raw bytes tell nothing.
        xlsx = (
            isinstance(self.source, Path)
            and detect_format(self.source, profile.options.encoding) == "xlsx"
        )
        return control or not _control_free(profile) or xlsx

    async def finish(self) -> None:
        """Never leave the digest running; its error, if any, was the import's."""
        await asyncio.gather(self.digest, return_exceptions=True)


async def _import(
    runtime: Runtime,
    tenant: TenantRef,
    spec: EntitySpec,
    profile: Profile,
    actor: Actor,
    import_id: uuid.UUID,
    given: _Input,
    report: Progress,
    began: float,
) -> ImportResult:
    codec = await _load_codec(runtime, tenant)
    source = given.source
    try:
        with (
            utf8_copy(source, profile.options)
            if isinstance(source, Path)
            else _same(source) as readable
        ):
            async with tenant_connection(tenant, runtime.databases) as conn:
                run = ImportRun(
                    spec,
                    profile,
                    codec,
                    hash_key(codec, tenant),
                    await apply.load_lookups(conn, spec),
                    dt.date.today(),
                )
                run.control_scan = functools.partial(given.control_scan, profile)
                run.direct = apply.direct_path(spec)
                run.lookup = not run.direct or await apply.has_rows(conn, spec)
                deferred: list[str] = []
                if run.direct and not run.lookup and given.size >= DEFER_INDEXES_BYTES:
                    run.lookup = not await apply.lock_for_first_load(conn, spec)
                    if not run.lookup:
                        deferred = await apply.drop_indexes(conn, spec)
                await apply.create_stage(conn, spec)
                run.timed("prepare", began)
                await validate_and_stage(conn, run, readable, given.size, report)
                await report(0.9, "writing")
                started = time.perf_counter()
                outcome = await apply_rows(conn, run, profile.source_system)
                run.timed("apply", started)
                started = time.perf_counter()
                await apply.rebuild_indexes(conn, deferred)
                run.timed("indexes", started)
                await update_feed(conn, spec, profile.source_system, run.newest)
                result = ImportResult(
                    import_id,
                    spec.name,
                    "applied",
                    run.total,
                    outcome.inserted,
                    outcome.updated,
                    outcome.unchanged,
                    to_steward=outcome.to_steward,
                    kept=outcome.kept,
                )
                await record_applied(conn, actor, result, given.name, await given.sha())
            logger.info(
                "import %s of %s: %s; seconds %s",
                import_id,
                spec.name,
                result.summary(),
                {phase: round(seconds, 2) for phase, seconds in run.timings.items()},
            )
    except (ImportRejected, FileRejected) as rejected:
        sha = await given.sha()
        return await record_rejection(tenant, import_id, rejected, actor, spec, sha)
    await report(1.0, result.summary())
    return result


class _same:
    """A context manager yielding its argument (frames need no transcoding)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *_: object) -> None:
        return None
