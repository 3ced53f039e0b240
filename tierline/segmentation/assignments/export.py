"""Assignments out of Tierline: CSV (streamed), XLSX, and the ERP write-back file.

Every CSV cell goes through :mod:`tierline.platform.csv_safety`, so a customer name such as
``=HYPERLINK(...)`` stays inert in a spreadsheet. XLSX cells are written as typed strings
(``strings_to_formulas`` off), which a spreadsheet never evaluates.

The write-back file puts each entity's segment code into the field of the tenant's customer or
material master that its mapping profile names: the key column is the profile's source column
for ``code`` (customers, e.g. ``KUNNR``) or ``sku`` (products, e.g. ``MATNR``); the segment
column is a parameter, defaulting to the profile's column for a ``segment`` attribute when it
maps one, else ``SEGMENT``. Delimiter and encoding are the profile's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.masterdata.service import Profile
from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.downloads import encode_chunks
from tierline.platform.errors import DomainError
from tierline.segmentation.assignments.queries import assignments

BATCH = 5000
MAX_XLSX_ROWS = 1_000_000  # Excel's sheet holds 1,048,576 rows
DEFAULT_SEGMENT_COLUMN = "SEGMENT"
PROFILE_ENTITY = {"customer": "customers", "product": "products"}
KEY_ATTRIBUTE = {"customers": "code", "products": "sku"}

COLUMNS = (
    "scheme",
    "entity_key",
    "customer_code",
    "sku",
    "name",
    "segment",
    "valid_from",
    "valid_to",
    "source",
    "reason",
    "run_id",
)


class ExportRefused(DomainError):
    status_code = 422
    title = "Export refused"


@dataclass(frozen=True)
class AssignmentFilter:
    scheme: str
    segment: str | None = None
    entity: str | None = None
    as_of: datetime | None = None


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def row_values(scheme: str, row: dict[str, Any]) -> list[Any]:
    """One assignment as export cells, in :data:`COLUMNS` order."""
    return [
        scheme,
        row["entity_key"],
        row["customer_code"],
        row["sku"],
        row["name"],
        row["segment"],
        _stamp(row["valid_from"]),
        _stamp(row["valid_to"]),
        row["source"],
        row["reason"],
        None if row["run_id"] is None else str(row["run_id"]),
    ]


async def assignment_batches(
    session: AsyncSession, where: AssignmentFilter, batch: int = BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    """The filtered assignments in key order, ``batch`` rows at a time (keyset)."""
    after: str | None = None
    while True:
        page = await assignments(
            session,
            scheme=where.scheme,
            segment=where.segment,
            entity=where.entity,
            as_of=where.as_of,
            after=after,
            limit=batch,
        )
        if page.rows:
            yield page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor


def csv_text(rows: Iterable[Iterable[Any]], delimiter: str = ",") -> str:
    """Rows as CSV text, every cell made spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(safe_csv_row(row))
    return out.getvalue()


async def assignments_csv(session: AsyncSession, where: AssignmentFilter) -> AsyncIterator[bytes]:
    """The assignments as UTF-8 CSV, a header then one chunk per batch (for streaming)."""
    yield csv_text([COLUMNS]).encode()
    async for rows in assignment_batches(session, where):
        yield csv_text(row_values(where.scheme, r) for r in rows).encode()


async def assignments_xlsx(session: AsyncSession, where: AssignmentFilter) -> bytes:
    """The assignments as one XLSX sheet (refused past :data:`MAX_XLSX_ROWS` rows)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = book.add_worksheet("assignments")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    line = 0
    async for rows in assignment_batches(session, where):
        for row in rows:
            line += 1
            if line > MAX_XLSX_ROWS:
                book.close()
                raise ExportRefused(f"more than {MAX_XLSX_ROWS:,} assignments: export CSV instead")
            for col, value in enumerate(row_values(where.scheme, row)):
                if value is not None:
                    sheet.write_string(line, col, str(value))
    sheet.autofilter(0, 0, max(line, 1), len(COLUMNS) - 1)
    book.close()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# ERP write-back


@dataclass(frozen=True)
class WritebackLayout:
    key_column: str
    segment_column: str
    delimiter: str
    encoding: str


def profile_entity(scheme_entity: str) -> str:
    """The master-data entity a scheme's segments are written back into."""
    found = PROFILE_ENTITY.get(scheme_entity)
    if found is None:
        raise ExportRefused(
            "customer-product segments have no field in the customer or material master; "
            "export CSV or XLSX instead"
        )
    return found


def writeback_layout(profile: Profile, segment_column: str | None = None) -> WritebackLayout:
    key_attribute = KEY_ATTRIBUTE.get(profile.entity)
    if key_attribute is None:
        raise ExportRefused(
            f"profile '{profile.name}' maps {profile.entity}; choose a customers or products "
            "profile"
        )
    column = (segment_column or "").strip() or profile.columns.get(
        "segment", DEFAULT_SEGMENT_COLUMN
    )
    if len(column) > 60 or any(ch in column for ch in '\r\n"' + profile.options.delimiter):
        raise ExportRefused(
            "segment_column: at most 60 characters, no quotes, line breaks or delimiter"
        )
    return WritebackLayout(
        profile.source_column(key_attribute),
        column,
        profile.options.delimiter,
        profile.options.encoding,
    )


def writeback_chunks(layout: WritebackLayout, pairs: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """Header, then ``key;segment`` lines in the profile's delimiter and encoding (one stream:
    an encoding with a byte-order mark writes it once)."""
    texts = (
        csv_text([(layout.key_column, layout.segment_column)], layout.delimiter),
        csv_text(pairs, layout.delimiter),
    )
    try:
        yield from encode_chunks(texts, layout.encoding)
    except UnicodeEncodeError as exc:
        raise ExportRefused(
            f"a value cannot be written in the profile's encoding {layout.encoding}: "
            f"{exc.object[exc.start : exc.end]!r}"
        ) from None


async def writeback_file(
    session: AsyncSession,
    scheme: str,
    scheme_entity: str,
    profile: Profile,
    segment_column: str | None = None,
) -> bytes:
    """The write-back file of the open assignments of ``scheme`` (customer or product)."""
    wanted = profile_entity(scheme_entity)
    if profile.entity != wanted:
        raise ExportRefused(
            f"profile '{profile.name}' maps {profile.entity}; scheme '{scheme}' needs a "
            f"{wanted} profile"
        )
    layout = writeback_layout(profile, segment_column)
    pairs: list[tuple[str, str]] = []
    async for rows in assignment_batches(session, AssignmentFilter(scheme)):
        pairs.extend((r["entity_key"], r["segment"]) for r in rows)
    return b"".join(writeback_chunks(layout, pairs))
