"""The text of a PDF, to assert what a customer reads in it (pypdf, a test dependency)."""

from __future__ import annotations

import io

import pypdf


def pdf_text(data: bytes) -> str:
    """Every page's text, in reading order."""
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    # pypdf reads an empty code before a glyph the fallback (CJK) font draws
    return "\n".join(page.extract_text() for page in pages).replace("\x00", "")
