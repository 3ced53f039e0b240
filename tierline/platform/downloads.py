"""File downloads: one Content-Type with one charset, an attachment name, never cached or sniffed.

Spreadsheet CSV (exports people open in Excel) starts with a UTF-8 byte-order mark: without it
Excel reads UTF-8 as the machine's ANSI code page and names in Polish, Greek or Japanese turn
into mojibake. Files written for another program (an ERP write-back in the profile's encoding)
get exactly the bytes that program expects, so they carry a mark only when their encoding
itself has one (``utf-8-sig``, ``utf-16``).

Litestar appends ``; charset=…`` to every ``text/*`` media type it is given, so handlers pass
the bare type and the charset separately (a media type that already names one ends up with
two, which some clients reject).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from litestar import Response
from litestar.response import Stream

CSV_BOM = "\ufeff"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"

# Python's codec names for the IANA charset names HTTP clients know.
_IANA = {
    "utf-8-sig": "utf-8",
    "cp1250": "windows-1250",
    "cp1251": "windows-1251",
    "cp1252": "windows-1252",
    "cp1253": "windows-1253",
    "iso8859-1": "iso-8859-1",
    "iso8859-2": "iso-8859-2",
    "iso8859-15": "iso-8859-15",
    "latin-1": "iso-8859-1",
    "mac-roman": "macintosh",
    "shift_jis": "shift_jis",
    "utf-16-le": "utf-16le",
    "utf-16-be": "utf-16be",
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def charset(encoding: str) -> str:
    """The IANA charset name of a Python codec name (``cp1252`` -> ``windows-1252``)."""
    name = codecs.lookup(encoding).name
    return _IANA.get(name, name)


def safe_filename(name: str, fallback: str = "download") -> str:
    """``name`` reduced to characters every browser and file system accepts."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip("._")[:120]
    return cleaned or fallback


def attachment_headers(filename: str, *, private: bool = True) -> dict[str, str]:
    """Headers for a file the browser saves: its name, not cached, not sniffed."""
    return {
        "Content-Disposition": f'attachment; filename="{safe_filename(filename)}"',
        "Cache-Control": "no-store" if private else "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }


def with_bom(text: str) -> str:
    """``text`` behind the UTF-8 byte-order mark a spreadsheet needs to read it as UTF-8."""
    return text if text.startswith(CSV_BOM) else CSV_BOM + text


async def bom_first(chunks: AsyncIterable[str | bytes]) -> AsyncIterator[bytes]:
    """A streamed CSV as UTF-8 bytes, the byte-order mark in front of its first chunk."""
    first = True
    async for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        if first:
            first = False
            if not data.startswith(CSV_BOM.encode()):
                data = CSV_BOM.encode() + data
        yield data
    if first:  # nothing at all: still a (blank) UTF-8 file
        yield CSV_BOM.encode()


def encode_chunks(chunks: Iterable[str], encoding: str) -> Iterator[bytes]:
    """Text chunks in ``encoding`` as one stream: a codec with a byte-order mark (UTF-16)
    writes it once, at the start, not in front of every chunk."""
    encoder = codecs.getincrementalencoder(encoding)()
    for chunk in chunks:
        yield encoder.encode(chunk)
    tail = encoder.encode("", final=True)
    if tail:
        yield tail


def csv_download(body: bytes | str, filename: str, *, encoding: str = "utf-8") -> Response[bytes]:
    """A CSV file held in memory; text is written as spreadsheet CSV (UTF-8 with its mark)."""
    data = with_bom(body).encode() if isinstance(body, str) else body
    return Response(
        data, media_type=CSV, encoding=charset(encoding), headers=attachment_headers(filename)
    )


def csv_stream(chunks: AsyncIterable[str | bytes], filename: str) -> Stream:
    """A spreadsheet CSV streamed as it is read (UTF-8 with its mark)."""
    return Stream(bom_first(chunks), media_type=CSV, headers=attachment_headers(filename))


def file_download(body: bytes, filename: str, media_type: str) -> Response[Any]:
    """Any other file (XLSX, PDF) as an attachment."""
    return Response(body, media_type=media_type, headers=attachment_headers(filename))
