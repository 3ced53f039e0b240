"""The text of a PDF, to assert what a customer reads in it: with ``pypdf`` when it is
installed, else by decoding the content streams (fpdf2 writes its core-font text as string
operands of ``Tj`` and ``TJ``, in Flate-compressed streams)."""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>")
_SHOWN = re.compile(rb"(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)\s*Tj|\[(.*?)\]\s*TJ", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(raw: bytes) -> bytes:
    if raw.startswith(b"<"):
        return bytes.fromhex(re.sub(rb"\s", b"", raw[1:-1]).decode())
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i : i + 1]
        if ch != b"\\":
            out += ch
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def _decoded_streams(data: bytes) -> list[bytes]:
    found = []
    for raw in _STREAM.findall(data):
        try:
            found.append(zlib.decompress(raw))
        except zlib.error:
            found.append(raw)
    return found


def pdf_text(data: bytes) -> str:
    """Every text string the PDF shows, one line per text operation."""
    try:
        from pypdf import PdfReader  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        import io

        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    lines = []
    for stream in _decoded_streams(data):
        for single, array in _SHOWN.findall(stream):
            parts = [single] if single else _STRING.findall(array)
            lines.append(b"".join(_literal(p) for p in parts).decode("latin-1"))
    return "\n".join(lines)
