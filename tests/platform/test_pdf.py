"""PDFs print names in every script a customer may write them in."""

from __future__ import annotations

import io

import pypdf

from tierline.platform.pdf import FAMILY, unicode_pdf

NAMES = (
    "Zakłady Mięsne Łódź Sp. z o.o.",
    "Příliš žluťoučký kůň, s.r.o.",
    "Ελληνικά Τρόφιμα Α.Ε.",  # noqa: RUF001 - Greek letters on purpose
    "ООО «Сибирская торговля»",  # noqa: RUF001 - Cyrillic letters on purpose
    "株式会社東京物流",
    "上海贸易有限公司",
    "한국유통 주식회사",
)


def test_names_in_every_script_come_out_of_the_pdf_as_written() -> None:
    pdf = unicode_pdf()
    pdf.add_page()
    for name in NAMES:
        pdf.set_font(FAMILY, size=11)
        pdf.multi_cell(0, 7, name, new_x="LMARGIN", new_y="NEXT")
    data = bytes(pdf.output())
    assert len(data) < 200_000  # fonts are subset, not embedded whole
    text = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    # pypdf reads an empty code before each glyph drawn by the fallback font (pdftotext does
    # not); the characters themselves are mapped right.
    flat = text.replace(" ", "").replace("\x00", "")
    for name in NAMES:
        assert name.replace(" ", "") in flat, name
