"""Exceptions raised by the field-encryption codec, and the marker that stands in for a bad cell.

Messages name where a value lives (table, column, row key) so an operator can find it; they never
contain plaintext or key material.
"""

from __future__ import annotations

import enum


class EncryptionError(Exception):
    """Base for every error raised by ``tierline.platform.encryption``."""


class IntegrityError(EncryptionError):
    """A stored value could not be authenticated for the cell it was read from.

    Raised when the ciphertext was altered, truncated, copied from another row, column, table or
    tenant, written in an unknown format, or sealed under a key version this keyring lacks.
    """

    def __init__(self, *, table: str, column: str, row_key: str, reason: str) -> None:
        self.table = table
        self.column = column
        self.row_key = row_key
        self.reason = reason
        super().__init__(
            f"integrity error in {table}.{column} for row {row_key!r}: {reason}",
        )


class UnknownKeyVersionError(IntegrityError):
    """The value names a data-key version that is not in the tenant keyring.

    A subclass of :class:`IntegrityError` so callers that mark bad cells treat it the same way,
    while operators can still tell "key missing from the keyring" from "value tampered with".
    """


class KeyUnwrapError(EncryptionError):
    """A wrapped data key could not be unwrapped: wrong master key, or a key of another tenant."""


class IntegrityMarker(enum.Enum):
    """Type of :data:`INTEGRITY_ERROR`; an enum so the sentinel is a typed singleton."""

    INTEGRITY_ERROR = "integrity error"

    def __str__(self) -> str:
        # Pages render the cell with str(); show the words, not "IntegrityMarker.INTEGRITY_ERROR".
        return self.value


# Returned by batch decryption with ``on_error="mark"`` in place of a value that failed to
# authenticate, so one bad cell shows "integrity error" instead of failing the whole page.
INTEGRITY_ERROR = IntegrityMarker.INTEGRITY_ERROR
