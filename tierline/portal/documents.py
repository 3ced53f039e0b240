"""The entitlements document a customer downloads: CSV (formula-safe cells) or PDF (fpdf2).

Both take the rows the portal pages show (``service.account_entitlements``): entitlements are
already worded by service levels (label and text), so the documents say exactly what the pages
and notices say. The PDF states each scheme's segment and dates once, above its entitlements,
wraps long labels and values instead of cutting them, and prints names in any script (the
chassis' embedded Unicode font).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from fpdf.fonts import FontFace

from tierline.platform.csv_safety import safe_csv_row
from tierline.platform.downloads import with_bom
from tierline.platform.pdf import FAMILY, unicode_pdf
from tierline.portal.accounts import PortalAccount
from tierline.portal.branding import Branding

HEADER = (
    "Account",
    "Scheme",
    "Segment",
    "In segment since",
    "In force from",
    "In force until",
    "Entitlement",
    "Value",
)
NONE_PUBLISHED = "No entitlements are published for this segment yet."


def _segment(row: dict[str, Any]) -> str:
    name, code = str(row.get("segment_name") or ""), str(row.get("segment") or "")
    return f"{name} ({code})" if name and code and name != code else name or code


def _items(row: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for item in (row.get("entitlements") or {}).get("items") or []:
        yield str(item["label"]), str(item["text"])


def entitlement_lines(segments: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The CSV rows: one per (scheme, entitlement), one per scheme without entitlements."""
    lines: list[tuple[str, ...]] = []
    for row in segments:
        entitlements = row.get("entitlements") or {}
        base = (
            str(row.get("account") or ""),
            str(row.get("scheme_name") or row.get("scheme") or ""),
            _segment(row),
            str(row.get("assigned_from") or ""),
            str(entitlements.get("effective_from") or ""),
            str(entitlements.get("effective_to") or ""),
        )
        items = list(_items(row))
        if not items:
            lines.append((*base, "", NONE_PUBLISHED))
        lines.extend((*base, label, text) for label, text in items)
    return lines


def entitlements_csv(account: PortalAccount, segments: list[dict[str, Any]], day: date) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        safe_csv_row(("Service entitlements of", account.name, account.code, "as of", day))
    )
    writer.writerow(HEADER)
    for line in entitlement_lines(segments):
        writer.writerow(safe_csv_row(line))
    return with_bom(out.getvalue()).encode("utf-8")


def _period(entitlements: dict[str, Any]) -> str:
    start, end = entitlements.get("effective_from"), entitlements.get("effective_to")
    if not start:
        return ""
    return f" Entitlements in force from {start}" + (f" until {end}." if end else ".")


def entitlements_pdf(
    branding: Branding, account: PortalAccount, segments: list[dict[str, Any]], day: date
) -> bytes:
    pdf = unicode_pdf(format="A4")
    pdf.set_title(f"Service entitlements - {account.code}")
    pdf.set_author(branding.display_name)
    pdf.add_page()
    r, g, b = (int(branding.primary_colour[i : i + 2], 16) for i in (1, 3, 5))
    pdf.set_fill_color(r, g, b)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(FAMILY, size=16)
    pdf.cell(0, 12, branding.display_name, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    pdf.set_font(FAMILY, size=14)
    pdf.multi_cell(0, 7, f"Service entitlements: {account.name} ({account.code})", new_x="LMARGIN")
    pdf.set_font(FAMILY, size=10)
    pdf.cell(0, 6, f"As of {day.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    if not segments:
        pdf.ln(3)
        pdf.multi_cell(0, 6, "No service segment is assigned to this account yet.")
    for row in segments:
        entitlements = row.get("entitlements") or {}
        pdf.ln(4)
        pdf.set_font(FAMILY, size=12.5)
        scheme = str(row.get("scheme_name") or row.get("scheme") or "")
        pdf.multi_cell(0, 7, f"{scheme}: {_segment(row)}", new_x="LMARGIN")
        pdf.set_font(FAMILY, size=10)
        since = f"In this segment since {row.get('assigned_from') or '-'}."
        pdf.multi_cell(0, 6, since + _period(entitlements), new_x="LMARGIN")
        items = list(_items(row))
        if not items:
            pdf.multi_cell(0, 6, NONE_PUBLISHED, new_x="LMARGIN")
            continue
        pdf.ln(1)
        with pdf.table(
            col_widths=(2, 3),
            text_align="LEFT",
            line_height=6,
            headings_style=FontFace(fill_color=(240, 243, 248)),
        ) as table:
            heading = table.row()
            heading.cell("Entitlement")
            heading.cell("Value")
            for label, text in items:
                line = table.row()
                line.cell(label)
                line.cell(text)
    if branding.support_email:
        pdf.ln(4)
        pdf.multi_cell(0, 6, f"Questions: {branding.support_email}", new_x="LMARGIN")
    return bytes(pdf.output())
