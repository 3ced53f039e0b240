"""The worked example of the README ("Service performance and alerts"): a dozen orders of one
customer, 28 lines, ordered Monday 2 March 2026, promised Friday 6 March, measured on 31 March.

Every line orders 10 units (one line of O11 orders 5) and is delivered in full on 5 March,
undamaged and with the right documents, except:

    O2  line 2 short (8 of 10)          O8  line 1 not delivered yet
    O3  line 1 late (8 March)           O10 line 2 late, damaged and documents wrong
    O4  line 3 damaged                  O12 line 1 short (9 of 10), line 2 documents wrong
    O5  line 2 documents wrong
    O6  line 1 late and short (7 of 10)

Requested dates are 9 March, so judged against the request the late lines are on time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from tierline.monitoring.engine import LINE_SCHEMA

ORDERED = date(2026, 3, 2)
PROMISED = date(2026, 3, 6)
REQUESTED = date(2026, 3, 9)
ON_TIME = date(2026, 3, 5)
LATE = date(2026, 3, 8)
AS_OF = date(2026, 3, 31)
CUSTOMER = "C-EX"

LINES_PER_ORDER = {1: 3, 2: 2, 3: 2, 4: 3, 5: 2, 6: 2, 7: 3, 8: 2, 9: 2, 10: 2, 11: 3, 12: 2}
EXCEPTIONS: dict[tuple[int, int], dict[str, Any]] = {
    (2, 2): {"delivered_quantity": 8.0},
    (3, 1): {"delivered_date": LATE},
    (4, 3): {"damaged": True},
    (5, 2): {"documentation_ok": False},
    (6, 1): {"delivered_date": LATE, "delivered_quantity": 7.0},
    (8, 1): {"delivered_date": None, "delivered_quantity": None},
    (10, 2): {"delivered_date": LATE, "damaged": True, "documentation_ok": False},
    (11, 3): {"quantity": 5.0, "delivered_quantity": 5.0},
    (12, 1): {"delivered_quantity": 9.0},
    (12, 2): {"documentation_ok": False},
}

# The hand-computed figures (README table)
EXPECTED = {
    "lines": 28,
    "delivered_lines": 27,
    "units_ordered": 265 * 10_000,
    "units_delivered": 259 * 10_000,
    "unit_fill_rate": 259 / 265,
    "line_fill_rate": 24 / 27,
    "order_fill_rate": 8 / 11,
    "otif_line": 22 / 27,
    "otif_order": 6 / 11,
    "perfect_order": 4 / 11,
    "perfect_order_product": (8 / 11) * (8 / 11) * (9 / 11) * (8 / 11),
    "lead_time_days": 90 / 27,
    "backorder_rate": 6 / 28,
    "otif_line_late_2_days": 24 / 27,
    "otif_line_requested": 24 / 27,
}


def example_line(order: int, line: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_no": f"O{order}",
        "line_no": line,
        "customer_code": CUSTOMER,
        "sku": f"SKU-{line}",
        "location_code": "DC1",
        "order_date": ORDERED,
        "requested_date": REQUESTED,
        "promised_date": PROMISED,
        "delivered_date": ON_TIME,
        "quantity": 10.0,
        "delivered_quantity": 10.0,
        "damaged": False,
        "documentation_ok": True,
    }
    row.update(EXCEPTIONS.get((order, line), {}))
    row.update(changes)
    return row


def example_rows() -> list[dict[str, Any]]:
    return [
        example_line(order, line)
        for order, count in LINES_PER_ORDER.items()
        for line in range(1, count + 1)
    ]


def example_lines() -> pl.DataFrame:
    return pl.DataFrame(example_rows(), schema=LINE_SCHEMA)
