"""CSV and XLSX files of the analytics tables. Cells are made spreadsheet-safe (a customer
name is never run as a formula); money stays empty where the reader sees it masked. Money is
written in major units with two decimals (the files are for people and spreadsheets)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter

from tierline.analytics.schemas import CostRow
from tierline.platform.csv_safety import safe_csv_row

COST_HEADER = (
    "segment",
    "region",
    "period",
    "customers",
    "lines",
    "revenue",
    "margin",
    "freight",
    "handling",
    "returns",
    "cost_to_serve",
    "margin_after_cts",
    "cts_share_of_revenue",
    "masked",
)
CUSTOMER_HEADER = ("customer_code", "customer_name", *COST_HEADER)


def _text(minor: int | None) -> str | None:
    """Cents as exact text (``-12.05``)."""
    if minor is None:
        return None
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def _number(minor: int | None) -> float | None:
    return None if minor is None else minor / 100


def cost_values(row: CostRow, with_customer: bool = False, as_text: bool = True) -> list[Any]:
    """One row of a file; money as exact text for CSV, as numbers for XLSX."""
    _major = _text if as_text else _number
    share = row.cts_share
    values: list[Any] = [
        row.segment,
        row.region,
        row.period.isoformat() if row.period else None,
        row.customers,
        row.lines,
        _major(row.revenue_minor),
        _major(row.margin_minor),
        _major(row.freight_minor),
        _major(row.handling_minor),
        _major(row.returns_minor),
        _major(row.cost_to_serve_minor),
        _major(row.margin_after_cts_minor),
        None if share is None else (f"{share:.6f}" if as_text else share),
        "yes" if row.masked else "no",
    ]
    return [row.customer_code, row.customer_name, *values] if with_customer else values


def csv_file(header: Sequence[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(safe_csv_row(row))
    return out.getvalue()


def xlsx_file(sheets: list[tuple[str, Sequence[str], list[list[Any]]]]) -> bytes:
    """One worksheet per ``(name, header, rows)``; numbers written as numbers, text as text
    (never as formulas or links)."""
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
    bold = book.add_format({"bold": True})
    for name, header, rows in sheets:
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, header, bold)
        sheet.freeze_panes(1, 0)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value))
        sheet.autofilter(0, 0, max(len(rows), 1), len(header) - 1)
    book.close()
    return buffer.getvalue()
