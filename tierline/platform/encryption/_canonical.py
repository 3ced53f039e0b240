"""Unambiguous byte encoding of a sequence of text parts, for associated data and key contexts.

Every part is UTF-8 prefixed with its length as 4 bytes big-endian, so ``("ab", "c")`` and
``("a", "bc")`` can never encode to the same bytes, whatever characters the parts contain.
"""

from __future__ import annotations

_LENGTH_BYTES = 4


def encode_part(part: str) -> bytes:
    """One length-prefixed part."""
    raw = part.encode("utf-8")
    return len(raw).to_bytes(_LENGTH_BYTES, "big") + raw


def encode_parts(*parts: str) -> bytes:
    """The concatenation of :func:`encode_part` over ``parts``."""
    return b"".join(encode_part(part) for part in parts)
