"""Plaintext encoding of field values: one type-tag byte, then the value.

=====  ========  ==========================================================================
tag    type      payload
=====  ========  ==========================================================================
``d``  Decimal   ``str(value)`` as ASCII: exact digits, exponent and sign (``12.3400``)
``i``  int       decimal digits as ASCII
``f``  float     8 bytes, IEEE 754 big-endian: exact (-0.0, inf and NaN included), and
                 parsed in bulk by numpy, which keeps ``decrypt_floats`` cheap
``s``  str       UTF-8
``b``  bytes     as they are (a whole document sealed as one value, e.g. a run's archived
                 feature snapshot)
=====  ========  ==========================================================================

Decoding gives back the same base type; subclasses (``numpy.float64``, ``IntEnum``) are encoded
as their base type, and ``bool`` is refused because it would come back as an ``int``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import EncryptionError

FieldValue = Decimal | int | float | str | bytes

TAG_DECIMAL, TAG_INT, TAG_FLOAT, TAG_STR, TAG_BYTES = b"d", b"i", b"f", b"s", b"b"
_NUMERIC_TAGS = frozenset(tag[0] for tag in (TAG_DECIMAL, TAG_INT, TAG_FLOAT))
_DOUBLE = struct.Struct(">d")
FLOAT_PLAINTEXT_SIZE = 1 + _DOUBLE.size
# One encoded float viewed as a numpy record, for parsing a whole column in one call.
_FLOAT_RECORD = np.dtype([("tag", "u1"), ("value", ">f8")])


def _encode_float(value: float) -> bytes:
    return TAG_FLOAT + _DOUBLE.pack(value)


def _encode_int(value: int) -> bytes:
    # int.__repr__, not str(): an IntEnum member would otherwise give its name.
    return TAG_INT + int.__repr__(value).encode("ascii")


def _encode_decimal(value: Decimal) -> bytes:
    return TAG_DECIMAL + Decimal.__str__(value).encode("ascii")


def _encode_str(value: str) -> bytes:
    return TAG_STR + str.encode(value, "utf-8")


def _encode_bytes(value: bytes) -> bytes:
    return TAG_BYTES + bytes(value)


# Any: each encoder only ever receives values of its own key type (or a subclass).
_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    float: _encode_float,
    int: _encode_int,
    Decimal: _encode_decimal,
    str: _encode_str,
    bytes: _encode_bytes,
}

_DECODERS: dict[int, Callable[[bytes], FieldValue]] = {
    TAG_DECIMAL[0]: lambda payload: Decimal(payload.decode("ascii")),
    TAG_INT[0]: int,
    TAG_FLOAT[0]: lambda payload: float(_DOUBLE.unpack(payload)[0]),
    TAG_STR[0]: lambda payload: payload.decode("utf-8"),
    TAG_BYTES[0]: bytes,
}

# What decrypt_floats puts in place of a NULL or a cell marked bad, so that a column of floats
# stays a run of equal-sized records that numpy can parse in one go.
NAN_PLAINTEXT = _encode_float(float("nan"))


def encode_value(value: FieldValue) -> bytes:
    """The plaintext bytes for ``value``."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _subclass_encoder(value)
    return encoder(value)


def _subclass_encoder(value: object) -> Callable[[Any], bytes]:
    if isinstance(value, bool):
        raise TypeError("cannot encrypt a bool; store it as an int")
    for base in (float, int, Decimal, str, bytes):
        if isinstance(value, base):
            return _ENCODERS[base]
    raise TypeError(f"cannot encrypt a value of type {type(value).__name__}")


def decode_value(plain: bytes) -> FieldValue:
    """Inverse of :func:`encode_value`."""
    decoder = _DECODERS.get(plain[0]) if plain else None
    if decoder is None:
        raise EncryptionError("decrypted value has an unknown type tag")
    return decoder(plain[1:])


def encode_floats(values: npt.NDArray[np.float64]) -> list[bytes]:
    """Float plaintexts for a whole column: one numpy call lays out the records, then each is
    sliced off (equal to ``encode_value`` of each value)."""
    records = np.empty(len(values), dtype=_FLOAT_RECORD)
    records["tag"] = TAG_FLOAT[0]
    records["value"] = values
    # A void view makes one bytes object per record, a third of the cost of slicing.
    return records.view(f"V{FLOAT_PLAINTEXT_SIZE}").tolist()  # type: ignore[no-any-return]


def decode_floats(plains: Sequence[bytes]) -> npt.NDArray[np.float64]:
    """Numeric plaintexts as float64; Decimal and int values become the nearest float."""
    count = len(plains)
    lengths = np.fromiter(map(len, plains), dtype=np.intp, count=count)
    # Exact length check first: only then does every record start on a tag byte.
    if count and (lengths == FLOAT_PLAINTEXT_SIZE).all():
        records = np.frombuffer(b"".join(plains), dtype=_FLOAT_RECORD)
        if (records["tag"] == TAG_FLOAT[0]).all():
            return records["value"].astype(np.float64)
    return np.array([_decode_float(plain) for plain in plains], dtype=np.float64)


def _decode_float(plain: bytes) -> float:
    if plain[0] not in _NUMERIC_TAGS:
        raise TypeError("decrypt_floats() met a non-numeric value")
    return float(decode_value(plain))
