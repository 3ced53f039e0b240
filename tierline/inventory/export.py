"""Policy results as CSV (streamed text, formula-safe) or XLSX (one sheet, bounded)."""

from __future__ import annotations

import io

import polars as pl
import xlsxwriter

from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.errors import DomainError

MAX_XLSX_ROWS = 200_000
COLUMNS = [
    "sku",
    "location_code",
    "segment_code",
    "policy_type",
    "service_measure",
    "service_target",
    "base_uom",
    "demand_class",
    "distribution",
    "demand_mean",
    "demand_sd",
    "lead_time_mean",
    "lead_time_sd",
    "lead_time_source",
    "review_period",
    "order_quantity",
    "k",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "expected_fill_rate",
    "expected_cycle_service_level",
    "expected_on_hand",
    "demand_share",
    "lead_time_share",
    "flags",
]


class ExportRefused(DomainError, ValueError):
    status_code = 413
    title = "Export too large"


def _rows(results: pl.DataFrame) -> pl.DataFrame:
    return results.with_columns(pl.col("flag_names").list.join(" ").alias("flags")).select(COLUMNS)


def results_csv(results: pl.DataFrame) -> str:
    """The results as CSV text (a spreadsheet never runs a cell as a formula)."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _rows(results).iter_rows():
        writer.writerow(safe_csv_row(row))
    return buffer.getvalue()


def results_xlsx(results: pl.DataFrame) -> bytes:
    """The results as one XLSX sheet, numbers as numbers (refused past MAX_XLSX_ROWS)."""
    if results.height > MAX_XLSX_ROWS:
        raise ExportRefused(f"more than {MAX_XLSX_ROWS:,} results: export CSV instead")
    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}  # fmt: skip
    book = xlsxwriter.Workbook(buffer, options)
    sheet = book.add_worksheet("policy results")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    for line, row in enumerate(_rows(results).iter_rows(), start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int | float):
                sheet.write_number(line, col, value)
            else:
                sheet.write_string(line, col, str(value))
    sheet.autofilter(0, 0, max(results.height, 1), len(COLUMNS) - 1)
    book.close()
    return buffer.getvalue()
