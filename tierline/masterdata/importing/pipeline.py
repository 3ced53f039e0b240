"""The phases of an import: read the source in chunks, validate every chunk, hash, encrypt and
COPY the rows into the table or a staging table (three stages overlapping in a pipeline), check
the whole file (duplicates, references within it), then apply the staged rows, reconciling
golden records when a customer or product file came from a system other than the ERP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from tierline.masterdata.golden.outcomes import GoldenOutcome, apply_erp, apply_source
from tierline.masterdata.importing import apply, reader, validate
from tierline.masterdata.importing.entities import EntitySpec, entity
from tierline.masterdata.importing.reader import LINE, csv_chunks, detect_format, xlsx_chunks
from tierline.masterdata.profiles.definition import Profile
from tierline.platform.encryption.codec import SealingFloats

MAX_STORED_ERRORS = 10_000
Progress = Callable[[float, str], Awaitable[None]]


class ImportRejected(Exception):
    """Validation found problems; the transaction is rolled back."""

    def __init__(self, errors: pl.DataFrame, error_count: int, total: int) -> None:
        super().__init__(f"{error_count} problem(s) found")
        self.errors, self.error_count, self.total = errors, error_count, total


@dataclass
class ImportRun:
    """One import under way: what it reads and with which keys, what it found and wrote so far."""

    spec: EntitySpec
    profile: Profile
    codec: Any
    key: bytes
    lookups: validate.Lookups
    today: dt.date
    keys: list[pl.DataFrame] = field(default_factory=list)
    errors: list[pl.DataFrame] = field(default_factory=list)
    error_count: int = 0
    total: int = 0
    stored: int = 0
    # New rows go straight into the table; only changed rows pass through the staging table.
    direct: bool = False
    # The table had rows when the import started: look up each chunk's keys.
    lookup: bool = True
    # Hashes of the keys seen so far, sorted (direct path): a key seen twice (a duplicate, or
    # a hash collision) sends new rows through the staging table from then on, so the unique
    # key never fails mid-file and the duplicate is reported like any other problem.
    seen: npt.NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, np.uint64))
    repeats: bool = False
    inserted: int = 0  # rows copied straight into the table
    staged: int = 0
    newest: Any = None  # newest source_updated_at (or date) in the file, for the feed
    timings: dict[str, float] = field(default_factory=dict)
    # False when the file is known to hold no control characters: validation skips the scan.
    scan_control: bool = True
    # Whether to scan for control characters, known once the file's digest is read (it is
    # read beside the preparation and the first chunk): awaited before the first check.
    control_scan: Callable[[], Awaitable[bool]] | None = None

    def add_errors(self, found: pl.DataFrame) -> None:
        if found.is_empty():
            return
        self.error_count += found.height
        room = MAX_STORED_ERRORS - self.stored
        if room > 0:
            self.errors.append(found.head(room))
            self.stored += min(room, found.height)

    def timed(self, phase: str, started: float) -> None:
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started


def _newest(typed: pl.DataFrame, spec: EntitySpec) -> Any:
    names = {f.name for f in spec.fields}
    column = "source_updated_at" if "source_updated_at" in names else spec.date_field
    if column is None:
        return None
    value = typed[column].max()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    return value


def _check_repeats(run: ImportRun, typed: pl.DataFrame) -> None:
    if run.repeats:
        return
    hashes = np.sort(typed.select(pl.struct(list(run.spec.key)).hash()).to_series().to_numpy())
    within = hashes.size > 1 and bool((hashes[1:] == hashes[:-1]).any())
    if within or _meets(run.seen, hashes):
        run.repeats = True
        run.seen = np.empty(0, np.uint64)
        return
    merged = np.concatenate([run.seen, hashes])
    # Two sorted runs: the stable sort (timsort for 64-bit keys) merges them in linear time,
    # where a union or a set test would sort the whole history again for every chunk.
    merged.sort(kind="stable")
    run.seen = merged


def _meets(seen: npt.NDArray[np.uint64], hashes: npt.NDArray[np.uint64]) -> bool:
    """Whether sorted ``hashes`` share a value with sorted ``seen``: a binary search each."""
    if not seen.size or not hashes.size:
        return False
    at = np.minimum(np.searchsorted(seen, hashes), seen.size - 1)
    return bool((seen[at] == hashes).any())


_Checked = tuple[pl.DataFrame, SealingFloats | None]


def _check_chunk(run: ImportRun, chunk: pl.DataFrame) -> _Checked | None:
    """Validate one chunk (CPU work, run in a thread); when all is well so far, the typed
    rows with their row hashes, and their money already sealing when every row is new."""
    started = time.perf_counter()
    spec, options = run.spec, run.profile.options
    frame = validate.map_columns(chunk, run.profile, spec)
    extra_errors = validate.extra_errors(chunk, run.profile, spec, run.scan_control)
    unit_errors = None
    if spec.uom is not None:
        frame, unit_errors = validate.unit_conversion(frame, spec, run.lookups)
    typed = validate.typed_frame(frame, spec, options)
    found = [
        validate.field_errors(frame, spec, options, run.today, typed, run.scan_control),
        validate.reference_errors(frame, spec, run.lookups),
        validate.lane_source_errors(typed, spec, run.lookups),
    ]
    if unit_errors is not None:
        found.append(unit_errors)
    found.append(extra_errors)
    found.append(validate.derived_errors(typed, spec))
    self_refs = [r.field for r in spec.references if r.table == spec.table]
    run.keys.append(typed.select(LINE, *spec.key, *self_refs, *spec.whole_file))
    run.total += typed.height
    run.add_errors(pl.concat(found).sort("line", maintain_order=True))
    run.timed("validate", started)
    if run.error_count:
        return None
    newest = _newest(typed, spec)
    if newest is not None and (run.newest is None or newest > run.newest):
        run.newest = newest
    started = time.perf_counter()
    typed = typed.with_columns(apply.row_hashes(frame, spec, run.key))
    if run.direct:
        _check_repeats(run, typed)
    run.timed("hash", started)
    money = None
    if run.direct and not run.lookup and spec.money:
        # A first load writes every row: the helper process seals this chunk's money while
        # the chunks before it are serialised and copied.
        money = apply.start_sealing_money(typed, spec, run.codec)
    return typed, money


_Write = tuple[str, apply.Payload, list[str], str, int]  # table, payload, columns, format, rows


def _seal(
    run: ImportRun,
    checked: _Checked,
    existing: tuple[list[int], list[int]] | None,
) -> list[_Write]:
    """Encrypt and serialise the rows to write (CPU work, run in a thread): on the direct
    path new rows for the table and changed rows for the staging table, unchanged rows not
    at all; else every row for the staging table."""
    started = time.perf_counter()
    spec = run.spec
    typed, money = checked
    if not run.direct:
        new, changed = typed.clear(), typed
    else:
        new, changed = apply.split_rows(typed, existing)
        if run.repeats and not new.is_empty():
            new, changed = new.clear(), pl.concat([new, changed])
    writes: list[_Write] = []
    for table, rows in ((spec.table, new), (apply.STAGE, changed)):
        if rows.height:
            # Sealing started early covers the whole chunk, in order: only then it fits.
            whole = money if rows.height == typed.height else None
            built = apply.build_rows(rows, spec, run.codec, whole)
            writes.append((table, *apply.copy_payload(built, spec), rows.height))
    run.timed("encrypt+serialise", started)
    return writes


async def _write(conn: AsyncConnection, run: ImportRun, writes: list[_Write]) -> None:
    started = time.perf_counter()
    for table, payload, columns, copy_format, rows in writes:
        await apply.copy_rows(conn, payload, columns, table, copy_format)
        if table == apply.STAGE:
            run.staged += rows
        else:
            run.inserted += rows
    run.timed("copy", started)


def _finish_checks(run: ImportRun) -> None:
    if not run.keys:
        run.add_errors(
            pl.DataFrame(
                {
                    "line": [None],
                    "column": [None],
                    "value": [None],
                    "reason": ["the file has no data rows"],
                },
                schema=validate.ERROR_SCHEMA,
            )
        )
        return
    keys = pl.concat(run.keys)
    run.add_errors(validate.duplicate_errors(keys, run.spec))
    codes = keys.rename({run.spec.key[0]: "code"}) if run.spec.table == "customers" else keys
    run.add_errors(validate.self_reference_errors(codes, run.spec, run.lookups))
    if run.spec.name == "sourcing_lanes":
        run.add_errors(validate.lane_cycle_errors(keys, run.lookups))


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """API and generated frames arrive typed; validation reads text like a file's."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        aware = col.dt.replace_time_zone("UTC") if dtype.time_zone is None else col
        return aware.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").alias(name)
    return col.cast(pl.String).alias(name)


def read_header(
    source: Path | pl.DataFrame, profile: Profile, spec: EntitySpec
) -> tuple[list[str], reader.Layout | None]:
    """The source's column names (and a CSV file's layout), read before any row: a file is
    checked by its header before its rows are parsed."""
    if isinstance(source, pl.DataFrame):
        return list(source.columns), None
    if detect_format(source) == "xlsx":
        return reader.xlsx_header(source, profile.options), None
    wanted = [profile.candidates(f) for f in spec.required]
    layout = reader.csv_layout(source, profile.options, wanted)
    return layout.columns, layout


def chunks_of(
    source: Path | pl.DataFrame, profile: Profile, layout: reader.Layout | None = None
) -> Iterator[pl.DataFrame]:
    """The source in chunks, the first and the last one cut smaller: the pipeline's first
    COPY starts after a fraction of a chunk has been checked, and the last COPY, which
    nothing else overlaps, is short."""
    chunks = _chunks(source, profile, layout)
    current, first = next(chunks, None), True
    while current is not None:
        following = next(chunks, None)
        yield from _cut(current, first=first, last=following is None)
        current, first = following, False


_MIN_PIECE_ROWS = 1000  # below this, cutting a chunk saves nothing


def _cut(chunk: pl.DataFrame, *, first: bool, last: bool) -> Iterator[pl.DataFrame]:
    rest, head = chunk, chunk.height // 8
    if first and head >= _MIN_PIECE_ROWS:
        yield chunk.slice(0, head)
        rest = chunk.slice(head)
    if last and rest.height >= 4 * _MIN_PIECE_ROWS:
        yield from rest.iter_slices(-(-rest.height // 4))
    else:
        yield rest


def _chunks(
    source: Path | pl.DataFrame, profile: Profile, layout: reader.Layout | None
) -> Iterator[pl.DataFrame]:
    if isinstance(source, pl.DataFrame):
        frame = source.select([_as_text(c, t) for c, t in source.schema.items()])
        frame = frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
        rows = reader.CHUNK_ROWS
        for start in range(0, max(frame.height, 1), rows):
            yield frame.slice(start, rows)
        return
    if detect_format(source) == "xlsx":
        yield from xlsx_chunks(source, profile.options)
    else:
        if layout is None:
            wanted = [profile.candidates(f) for f in entity(profile.entity).required]
            layout = reader.csv_layout(source, profile.options, wanted)
        yield from csv_chunks(source, layout, reader.CHUNK_ROWS)


class _Pipeline:
    """Three stages joined by one-place queues: chunks are checked in a worker thread,
    checked chunks encrypted and serialised in another, and the results copied into the
    database. Each stage may run up to two chunks ahead of the next, so a slow COPY does not
    leave the processor idle, nor a slow chunk the database. The connection serves one
    statement at a time: a key look-up waits for the COPY in progress."""

    def __init__(
        self,
        conn: AsyncConnection,
        run: ImportRun,
        source: Path | pl.DataFrame,
        size: int,
        report: Progress,
    ) -> None:
        self.conn, self.run, self.source, self.size, self.report = conn, run, source, size, report
        self.checked: asyncio.Queue[_Checked | None] = asyncio.Queue(maxsize=1)
        self.sealed: asyncio.Queue[list[_Write] | None] = asyncio.Queue(maxsize=1)
        self.statement = asyncio.Lock()

    async def run_all(self) -> None:
        writer = asyncio.ensure_future(self.write())
        feeders = [asyncio.ensure_future(self.check()), asyncio.ensure_future(self.seal())]
        try:
            await asyncio.gather(*feeders, writer)
        finally:
            for feeder in feeders:
                feeder.cancel()
            await asyncio.gather(*feeders, return_exceptions=True)
            if not writer.done():
                # Let a COPY in flight end before the connection rolls back: the writer
                # stops at the end marker once it is done.
                while not self.sealed.empty():
                    self.sealed.get_nowait()
                self.sealed.put_nowait(None)
                await asyncio.gather(writer, return_exceptions=True)

    async def check(self) -> None:
        run = self.run
        started = time.perf_counter()
        header, layout = await asyncio.to_thread(read_header, self.source, run.profile, run.spec)
        # The file names each column by one of the names the profile allows for it.
        run.profile = run.profile.for_header(header)
        validate.check_header(header, run.profile, run.spec)
        run.timed("read", started)
        iterator = chunks_of(self.source, run.profile, layout)
        first = True
        while True:
            started = time.perf_counter()
            chunk = await asyncio.to_thread(next, iterator, None)
            run.timed("read", started)
            if chunk is None:
                break
            if first:
                first = False
                if run.control_scan is not None:
                    run.scan_control = await run.control_scan()
            checked = await asyncio.to_thread(_check_chunk, run, chunk)
            if checked is not None:
                await self.checked.put(checked)
            fraction = min(0.85, 0.05 + 0.8 * run.total / max(self.size / 100, run.total + 1))
            await self.report(fraction, f"checked {run.total:,} rows")
        await self.checked.put(None)

    async def seal(self) -> None:
        run = self.run
        while (checked := await self.checked.get()) is not None:
            existing = None
            if run.direct and run.lookup:
                async with self.statement:
                    started = time.perf_counter()
                    existing = await apply.compare_existing(self.conn, run.spec, checked[0])
                    run.timed("lookup", started)
            await self.sealed.put(await asyncio.to_thread(_seal, run, checked, existing))
        await self.sealed.put(None)

    async def write(self) -> None:
        while (writes := await self.sealed.get()) is not None:
            async with self.statement:
                await _write(self.conn, self.run, writes)


async def validate_and_stage(
    conn: AsyncConnection, run: ImportRun, source: Path | pl.DataFrame, size: int, report: Progress
) -> None:
    await _Pipeline(conn, run, source, size, report).run_all()
    _finish_checks(run)
    if run.error_count:
        errors = pl.concat(run.errors) if run.errors else validate.empty_errors()
        raise ImportRejected(errors, run.error_count, run.total)


async def apply_rows(conn: AsyncConnection, run: ImportRun, source_system: str) -> GoldenOutcome:
    """Write the staged rows: what happened to them (for customers and products, to their
    golden records). Customers and products from a system other than the ERP are kept as
    source records and reconciled into golden records instead."""
    spec = run.spec
    if spec.name in ("customers", "products"):
        if source_system == "erp":
            return await apply_erp(conn, spec)
        return await apply_source(conn, spec, source_system)
    inserted = updated = 0
    if run.direct:
        if run.staged:
            inserted, updated = await apply.upsert(conn, spec)
        inserted += run.inserted
    else:
        inserted, updated = await apply.upsert(conn, spec)
    return GoldenOutcome(inserted, updated, run.total - inserted - updated)
