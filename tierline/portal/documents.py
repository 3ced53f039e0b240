"""The entitlements document a customer downloads: CSV (formula-safe cells) or PDF (fpdf2)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from fpdf import FPDF

from tierline.platform.csv_safety import safe_csv_row
from tierline.portal.accounts import PortalAccount
from tierline.portal.branding import Branding

HEADER = ("account", "scheme", "segment", "segment_name", "assigned_from", "entitlement", "value")


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value)
    return str(value)


def entitlement_lines(segments: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One line per (scheme, entitlement), or one per scheme without entitlements."""
    lines: list[tuple[str, ...]] = []
    for row in segments:
        base = (
            str(row.get("account") or ""),
            str(row.get("scheme_name") or row.get("scheme") or ""),
            str(row.get("segment") or ""),
            str(row.get("segment_name") or ""),
            str(row.get("assigned_from") or ""),
        )
        entitlements = row.get("entitlements") or {}
        if not entitlements:
            lines.append((*base, "", "no entitlements published"))
        for key, value in entitlements.items():
            lines.append((*base, key.replace("_", " "), _flat(value)))
    return lines


def entitlements_csv(account: PortalAccount, segments: list[dict[str, Any]], day: date) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(safe_csv_row(("# entitlements of", account.code, account.name, day)))
    writer.writerow(HEADER)
    for line in entitlement_lines(segments):
        writer.writerow(safe_csv_row(line))
    return out.getvalue().encode("utf-8")


def _latin(text: str) -> str:
    """The PDF core fonts speak Latin-1; anything else becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def entitlements_pdf(
    branding: Branding, account: PortalAccount, segments: list[dict[str, Any]], day: date
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_latin(f"Service entitlements - {account.code}"))
    pdf.set_author(_latin(branding.display_name))
    pdf.add_page()
    r, g, b = (int(branding.primary_colour[i : i + 2], 16) for i in (1, 3, 5))
    pdf.set_fill_color(r, g, b)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, _latin(branding.display_name), fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(
        0,
        8,
        _latin(f"Service entitlements: {account.name} ({account.code})"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"As of {day.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (45, 25, 30, 35, 55)
    pdf.set_font("Helvetica", "B", 9)
    for width, title in zip(
        widths, ("Scheme", "Segment", "In segment since", "Entitlement", "Value"), strict=True
    ):
        pdf.cell(width, 7, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for line in entitlement_lines(segments):
        cells = (line[1], line[2], line[4], line[5], line[6])
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, _latin(text)[: int(width / 1.7)], border=1)
        pdf.ln()
    if branding.support_email:
        pdf.ln(4)
        pdf.cell(0, 6, _latin(f"Questions: {branding.support_email}"))
    return bytes(pdf.output())
