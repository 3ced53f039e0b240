"""PDF documents that print every customer's and product's name: Noto Sans embedded (Latin,
Greek, Cyrillic, Vietnamese), with Noto Sans CJK for Chinese, Japanese and Korean as fallback.

fpdf2's built-in fonts (Helvetica) cover Latin-1 only: a Polish, Czech, Greek, Russian or
Japanese name became question marks or an error. Both fonts come from PyPI packages (no
download at run time) and are subset into each document, so a page of names costs tens of
kilobytes, not the fonts' megabytes.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

FAMILY = "NotoSans"
CJK_FAMILY = "NotoSansCJK"


def _fonts() -> tuple[Path, Path]:
    import cvttf_NotoSansCJK_Regular
    import fontpkg_noto_sans

    latin = Path(fontpkg_noto_sans.__file__).resolve().parent / "files" / "NotoSans[wdth,wght].ttf"
    cjk = Path(cvttf_NotoSansCJK_Regular.__file__).resolve().parent / "NotoSansCJKtc-Regular.otf"
    return latin, cjk


def unicode_pdf(**options: object) -> FPDF:
    """A new ``FPDF`` whose current font is Noto Sans (regular) with the CJK fallback; use
    ``FAMILY`` when setting the font again (styles: regular only; bold is drawn by size)."""
    pdf = FPDF(**options)  # type: ignore[arg-type]
    latin, cjk = _fonts()
    pdf.add_font(FAMILY, "", str(latin))
    pdf.add_font(CJK_FAMILY, "", str(cjk))
    pdf.set_fallback_fonts([CJK_FAMILY])
    pdf.set_font(FAMILY, size=10)
    return pdf
