"""Reading CSV and XLSX files into chunks of text columns, with line numbers.

Every column is read as text: types are decided by validation, which can then name the line,
column and value of every problem instead of failing on the first one. Large files stream in
chunks so memory stays flat.

Files come as ERP front ends save them (SAP GUI, SE16N): a byte-order mark decides the encoding
(UTF-8, UTF-16), so does the profile, or — for profiles that detect — UTF-8 else Windows-1252;
other encodings are transcoded to a UTF-8 copy first. The header is the first of the first
lines that names the columns the profile needs (a title above it is skipped), in the profile's
delimiter or — detecting — whichever usual one makes it so. Blank lines are ignored; a header
naming a column twice, an unclosed quote or a row with too many fields is refused with its
line.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tierline.masterdata.profiles.definition import FileOptions

LINE = "__line"
CHUNK_ROWS = 200_000
XLSX_MAGIC = b"PK\x03\x04"
# Byte-order marks, longest first (UTF-32's starts like UTF-16's).
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
FALLBACK_ENCODING = "cp1252"  # what Windows front ends write when they do not write UTF-8
DELIMITERS = (";", "\t", ",", "|")  # tried, after the profile's own, by profiles that detect
TITLE_LINES = 20  # how far down the header may be (a title, blank lines, selection criteria)
BLANK = "__blank:"  # columns whose header is empty: nothing to name them by, not read


class FileRejected(ValueError):
    """The file as a whole cannot be read (encoding, layout, formulas…)."""


def _bom_encoding(head: bytes) -> str | None:
    return next((name for bom, name in BOMS if head.startswith(bom)), None)


def _wide(encoding: str) -> bool:
    """UTF-16 and UTF-32: text whose bytes are full of NULs."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def detect_format(path: Path, encoding: str = "utf-8") -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if b"\x00" in head and _bom_encoding(head) is None and not _wide(encoding):
        raise FileRejected(
            "this is not a text (CSV) or XLSX file (a UTF-16 file needs its byte-order mark, "
            "or a profile whose encoding says utf-16)"
        )
    return "csv"


def _valid_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def file_encoding(path: Path, options: FileOptions) -> str:
    """The encoding the file is read with: its byte-order mark's, else the profile's; with
    ``detect``, a file that is not valid UTF-8 is Windows-1252 (what SAP GUI writes)."""
    with path.open("rb") as handle:
        found = _bom_encoding(handle.read(4))
    if found is not None:
        return found
    if options.detect and codecs.lookup(options.encoding).name == "utf-8":
        return "utf-8" if _valid_utf8(path) else FALLBACK_ENCODING
    return options.encoding


@contextmanager
def utf8_copy(path: Path, options: FileOptions) -> Iterator[Path]:
    """The file itself when it is UTF-8 (or XLSX); else a transcoded temporary copy."""
    if detect_format(path, options.encoding) == "xlsx":
        yield path
        return
    encoding = file_encoding(path, options)
    if codecs.lookup(encoding).name == "utf-8":
        yield path
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as out:
        target = Path(out.name)
        try:
            # "utf-16" / "utf-32" read the byte-order mark and drop it.
            with path.open("r", encoding=encoding, newline="") as src:
                writer = codecs.getwriter("utf-8")(out)
                shutil.copyfileobj(src, writer)
        except UnicodeError as exc:
            target.unlink(missing_ok=True)
            reason = getattr(exc, "reason", str(exc))
            raise FileRejected(f"the file is not valid {encoding}: {reason}") from None
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


def _check_not_truncated(path: Path, layout: Layout) -> None:
    """A file cut off mid-record would otherwise load its last row with empty fields."""
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - _TAIL_BYTES, 0))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    last = tail.decode("utf-8", errors="replace").splitlines()[-1]
    fields = next(csv.reader([last], delimiter=layout.delimiter), [])
    expected = len(layout.header)
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


@dataclass(frozen=True)
class Layout:
    """Where a CSV file's columns are: its delimiter, the header's line (0-based: the lines
    above it are a title) and the header's names."""

    delimiter: str
    header_line: int
    header: list[str]

    @property
    def columns(self) -> list[str]:
        """The names the reader gives the columns: blank headers get a placeholder."""
        return [name or f"{BLANK}{i + 1}" for i, name in enumerate(self.header)]


def _first_lines(path: Path) -> list[str]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            lines = [line for _, line in zip(range(TITLE_LINES), handle, strict=False)]
    except UnicodeDecodeError:
        _check_utf8(path)
        raise
    return lines


def _fields(line: str, delimiter: str) -> list[str]:
    return [c.strip().lstrip("\ufeff") for c in next(csv.reader([line], delimiter=delimiter), [])]


def csv_layout(path: Path, options: FileOptions, wanted: Sequence[Sequence[str]] = ()) -> Layout:
    """The file's layout. ``wanted``: for each required attribute, the names its column may
    have; the header is the first line holding one of each (in the profile's delimiter, or —
    with ``detect`` — any usual one). When no line does, the first line is the header (and
    the missing columns are reported from it)."""
    lines = _first_lines(path)
    if not any(line.strip() for line in lines):
        raise FileRejected("the file is empty (no header row)")
    delimiters = [options.delimiter]
    if options.detect:
        delimiters += [d for d in DELIMITERS if d != options.delimiter]
    if wanted:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            for delimiter in delimiters:
                present = set(_fields(line, delimiter))
                if all(present.intersection(names) for names in wanted):
                    return _checked(Layout(delimiter, number, _fields(line, delimiter)))
    first = next(i for i, line in enumerate(lines) if line.strip())
    return _checked(Layout(options.delimiter, first, _fields(lines[first], options.delimiter)))


def _checked(layout: Layout) -> Layout:
    check_header_names(layout.header, layout.header_line + 1)
    return layout


def check_header_names(header: list[str], line: int | None = None) -> None:
    """Refuse a header that names a column twice (the second would silently become an
    attribute of its own), naming the columns and their positions."""
    positions: dict[str, list[int]] = defaultdict(list)
    for position, name in enumerate(header, start=1):
        if name:
            positions[name].append(position)
    repeated = {name: found for name, found in positions.items() if len(found) > 1}
    if repeated:
        where = f"the header (line {line})" if line is not None else "the header"
        named = "; ".join(
            f"'{name}' in columns {', '.join(map(str, found))}" for name, found in repeated.items()
        )
        raise FileRejected(f"{where} names a column more than once: {named}")


def csv_chunks(path: Path, layout: Layout, chunk_rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    """Text chunks of a UTF-8 CSV file without its blank lines; raises ``FileRejected`` on a
    malformed file, naming the line where it can."""
    _check_not_truncated(path, layout)
    frame = pl.scan_csv(
        path,
        separator=layout.delimiter,
        skip_lines=layout.header_line,
        new_columns=layout.columns,
        infer_schema=False,
        row_index_name=LINE,
        row_index_offset=layout.header_line + 2,
        truncate_ragged_lines=False,
        raise_if_empty=True,
        missing_columns="insert",
        encoding="utf8",
        quote_char='"',
    )
    try:
        for chunk in frame.collect_batches(chunk_size=chunk_rows):
            yield _without_blank_lines(chunk)
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower():
            _check_utf8(path)
        where = _malformed_line(path, layout)
        raise FileRejected(
            where or f"the file is not well-formed CSV: {_first_line(str(exc))}"
        ) from None


def _without_blank_lines(chunk: pl.DataFrame) -> pl.DataFrame:
    """Blank lines (trailing ones above all, as SAP exports end) read as rows of nulls."""
    values = [c for c in chunk.columns if c != LINE]
    if not values or not chunk[values[0]].null_count():
        return chunk  # (a count polars keeps: no blank line without a null in every column)
    blank = chunk.select(pl.all_horizontal(pl.col(values).is_null())).to_series()
    return chunk.filter(~blank) if blank.any() else chunk


def _malformed_line(path: Path, layout: Layout) -> str | None:
    """Where a file polars could not parse goes wrong, read again record by record (only
    after a failure): a quote never closed, or a row with more fields than the header."""
    expected = len(layout.header)
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        for _ in range(layout.header_line + 1):
            handle.readline()
        records = csv.reader(handle, delimiter=layout.delimiter, strict=True)
        start = layout.header_line + 2  # the line the next record starts on
        try:
            for fields in records:
                if len(fields) > expected:
                    return (
                        f"the file is not well-formed CSV: line {start} has {len(fields)} "
                        f"fields, the header {expected}"
                    )
                start = layout.header_line + 2 + records.line_num
        except csv.Error as exc:
            if "end of data" in str(exc) or "EOF" in str(exc):
                return (
                    f"the file is not well-formed CSV: line {start} opens a quoted value "
                    "that is never closed"
                )
            return f"the file is not well-formed CSV: line {start}: {exc}"
    return None


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


@contextmanager
def _sheet(path: Path, options: FileOptions) -> Iterator[Any]:
    """The profile's sheet of the workbook (read-only, formulas as written), closed after."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileRejected(f"the XLSX file cannot be opened: {_first_line(str(exc))}") from None
    try:
        try:
            sheet = book[options.sheet] if options.sheet else book.worksheets[0]
        except KeyError:
            raise FileRejected(f"the workbook has no sheet named '{options.sheet}'") from None
        yield sheet
    finally:
        book.close()


def _xlsx_header(cells: Sequence[Any] | None) -> list[str]:
    if cells is None:
        raise FileRejected("the sheet is empty (no header row)")
    names = [str(c.value).strip() if c.value is not None else "" for c in cells]
    check_header_names(names, 1)
    return [name or f"{BLANK}{i + 1}" for i, name in enumerate(names)]


def xlsx_header(path: Path, options: FileOptions) -> list[str]:
    """The sheet's header row (blank cells named by placeholders), read on its own."""
    with _sheet(path, options) as sheet:
        return _xlsx_header(next(sheet.iter_rows(max_row=1), None))


def xlsx_chunks(
    path: Path, options: FileOptions, chunk_rows: int = 50_000
) -> Iterator[pl.DataFrame]:
    """Text chunks of an XLSX sheet. Formulas are refused: their value is whatever the last
    program that saved the file computed, and they are a vector for spreadsheet injection."""
    with _sheet(path, options) as sheet:
        rows = sheet.iter_rows()
        header = _xlsx_header(next(rows, None))
        batch: list[list[str | None]] = []
        lines: list[int] = []
        for line, cells in enumerate(rows, start=2):
            values: list[str | None] = []
            for cell in cells[: len(header)]:
                if cell.data_type == "f":
                    raise FileRejected(
                        f"cell {cell.coordinate} holds a formula; export values only "
                        "(paste as values)"
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


def _frame(header: list[str], rows: list[list[str | None]], lines: list[int]) -> pl.DataFrame:
    data = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    frame = pl.DataFrame(data, schema=dict.fromkeys(header, pl.String))
    return frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)).select(LINE, *header)
