"""Reading CSV and XLSX files into chunks of text columns, with line numbers.

Every column is read as text: types are decided by validation, which can then name the line,
column and value of every problem instead of failing on the first one. Large files stream in
chunks so memory stays flat.
"""

from __future__ import annotations

import codecs
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from tierline.masterdata.profiles.definition import FileOptions

LINE = "__line"
CHUNK_ROWS = 200_000
XLSX_MAGIC = b"PK\x03\x04"


class FileRejected(ValueError):
    """The file as a whole cannot be read (encoding, layout, formulas…)."""


def detect_format(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if b"\x00" in head:
        raise FileRejected("this is not a text (CSV) or XLSX file")
    return "csv"


@contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """The file itself when it is UTF-8; else a transcoded temporary copy."""
    if codecs.lookup(encoding).name == "utf-8":
        yield path
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as out:
        target = Path(out.name)
        try:
            with path.open("r", encoding=encoding, newline="") as src:
                writer = codecs.getwriter("utf-8")(out)
                shutil.copyfileobj(src, writer)
        except UnicodeDecodeError as exc:
            target.unlink(missing_ok=True)
            raise FileRejected(f"the file is not valid {encoding}: {exc.reason}") from None
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


# The bytes of the control characters validation refuses (all but tab, line feed, return).
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))


def has_control_bytes(block: bytes) -> bool:
    return len(block.translate(None, CONTROL_BYTES)) != len(block)


def _check_utf8(path: Path) -> None:
    """Refuse invalid UTF-8, naming the first bad byte. Only run once polars has found the
    file invalid: polars checks every value as it parses, this finds where."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        offset = 0
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise FileRejected(
                    f"the file is not valid UTF-8 (byte {offset + exc.start}); save it as UTF-8 "
                    "or set the profile's encoding (e.g. latin-1, cp1252)"
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileRejected("the file is not valid UTF-8: it ends mid-character") from None


_TAIL_BYTES = 65536


def _check_not_truncated(path: Path, options: FileOptions) -> None:
    """A file cut off mid-record would otherwise load its last row with empty fields."""
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - _TAIL_BYTES, 0))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    import csv

    last = tail.decode("utf-8", errors="replace").splitlines()[-1]
    fields = next(csv.reader([last], delimiter=options.delimiter), [])
    expected = len(csv_header(path, options))
    if len(fields) < expected:
        raise FileRejected(
            f"line {_line_breaks(path) + 1} has {len(fields)} of {expected} fields and the file "
            "does not end with a line break: the file looks truncated"
        )


def _line_breaks(path: Path) -> int:
    breaks = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            breaks += chunk.count(b"\n")
    return breaks


def csv_header(path: Path, options: FileOptions) -> list[str]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except UnicodeDecodeError:
        _check_utf8(path)
        raise
    if not first.strip():
        raise FileRejected("the file is empty (no header row)")
    import csv

    return [c.strip() for c in next(csv.reader([first], delimiter=options.delimiter))]


def csv_chunks(
    path: Path, options: FileOptions, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pl.DataFrame]:
    """Text chunks of a UTF-8 CSV file; raises ``FileRejected`` on a malformed file."""
    csv_header(path, options)  # polars checks the values' UTF-8 as it parses, not the header's
    _check_not_truncated(path, options)
    frame = pl.scan_csv(
        path,
        separator=options.delimiter,
        infer_schema=False,
        row_index_name=LINE,
        row_index_offset=2,
        truncate_ragged_lines=False,
        raise_if_empty=True,
        missing_columns="insert",
        encoding="utf8",
        quote_char='"',
    )
    try:
        for chunk in frame.collect_batches(chunk_size=chunk_rows):
            yield chunk.rename({c: c.strip().lstrip("\ufeff") for c in chunk.columns})
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower():
            _check_utf8(path)
        raise FileRejected(f"the file is not well-formed CSV: {_first_line(str(exc))}") from None


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0][:300] if message.strip() else "unreadable"


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_chunks(
    path: Path, options: FileOptions, chunk_rows: int = 50_000
) -> Iterator[pl.DataFrame]:
    """Text chunks of an XLSX sheet. Formulas are refused: their value is whatever the last
    program that saved the file computed, and they are a vector for spreadsheet injection."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileRejected(f"the XLSX file cannot be opened: {_first_line(str(exc))}") from None
    try:
        sheet = book[options.sheet] if options.sheet else book.worksheets[0]
    except KeyError:
        raise FileRejected(f"the workbook has no sheet named '{options.sheet}'") from None
    rows = sheet.iter_rows()
    header_cells = next(rows, None)
    if header_cells is None:
        raise FileRejected("the sheet is empty (no header row)")
    header = [
        str(c.value).strip() if c.value is not None else f"column_{i + 1}"
        for i, c in enumerate(header_cells)
    ]
    batch: list[list[str | None]] = []
    lines: list[int] = []
    for line, cells in enumerate(rows, start=2):
        values: list[str | None] = []
        for cell in cells[: len(header)]:
            if cell.data_type == "f":
                raise FileRejected(
                    f"cell {cell.coordinate} holds a formula; export values only (paste as values)"
                )
            values.append(_cell_text(cell.value))
        values += [None] * (len(header) - len(values))
        if any(v not in (None, "") for v in values):
            batch.append(values)
            lines.append(line)
        if len(batch) >= chunk_rows:
            yield _frame(header, batch, lines)
            batch, lines = [], []
    if batch:
        yield _frame(header, batch, lines)
    book.close()


def _frame(header: list[str], rows: list[list[str | None]], lines: list[int]) -> pl.DataFrame:
    data = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    frame = pl.DataFrame(data, schema=dict.fromkeys(header, pl.String))
    return frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)).select(LINE, *header)


def read_header(path: Path, fmt: str, options: FileOptions) -> list[str]:
    if fmt == "xlsx":
        first = next(xlsx_chunks(path, options, chunk_rows=1), None)
        return [c for c in first.columns if c != LINE] if first is not None else []
    return csv_header(path, options)
