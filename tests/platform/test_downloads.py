"""Downloads: IANA charset names, one byte-order mark per file, names a browser accepts."""

from __future__ import annotations

import pytest

from tierline.platform.downloads import (
    CSV_BOM,
    attachment_headers,
    bom_first,
    charset,
    encode_chunks,
    safe_filename,
    with_bom,
)


@pytest.mark.parametrize(
    ("codec", "label"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("cp1252", "windows-1252"),
        ("latin-1", "iso-8859-1"),
        ("utf-16", "utf-16"),
    ],
)
def test_charset_is_the_name_http_clients_know(codec: str, label: str) -> None:
    assert charset(codec) == label


def test_a_stream_in_utf16_has_one_mark() -> None:
    data = b"".join(encode_chunks(["a,b\r\n", "c,d\r\n", "e,f\r\n"], "utf-16"))
    assert data.decode("utf-16") == "a,b\r\nc,d\r\ne,f\r\n"
    assert data.count(CSV_BOM.encode("utf-16-le")) == 1


async def test_streamed_csv_gets_its_mark_once() -> None:
    async def chunks(*parts: str):  # type: ignore[no-untyped-def]
        for part in parts:
            yield part

    assert (
        b"".join([c async for c in bom_first(chunks("a\r\n", "b\r\n"))])
        == (CSV_BOM + "a\r\nb\r\n").encode()
    )
    marked = [c async for c in bom_first(chunks(CSV_BOM + "a\r\n"))]
    assert b"".join(marked).count(CSV_BOM.encode()) == 1
    assert [c async for c in bom_first(chunks())] == [CSV_BOM.encode()]
    assert with_bom(with_bom("x")) == CSV_BOM + "x"


def test_attachment_names_are_safe() -> None:
    assert safe_filename('entitlements-"A;B"\r\n.csv') == "entitlements-_A_B_.csv"
    assert safe_filename("../..") == "download"
    headers = attachment_headers("Zürich export.csv")
    assert headers["Content-Disposition"] == 'attachment; filename="Z_rich_export.csv"'
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
