"""Row hashes: HMAC-SHA256 of the mapped text, computed over whole columns, equal to the
standard library's HMAC of each row."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

from tierline.masterdata.importing.apply import ROW_HASH_SIZE, row_hashes, row_keys
from tierline.masterdata.importing.entities import entity
from tierline.platform.encryption.codec import RowKeys

KEY = bytes(range(32))


def _frame() -> pl.DataFrame:
    spec = entity("lead_times")
    rows = [
        {f.name: f"{f.name}-{i}-ü" for f in spec.fields} for i in range(3)
    ]  # non-ASCII on purpose: the hash is over UTF-8 bytes
    rows[1][spec.fields[1].name] = None
    rows[2][spec.fields[1].name] = ""
    return pl.DataFrame(rows, schema={f.name: pl.String for f in spec.fields})


def _reference(row: dict[str, str | None], key: bytes) -> bytes:
    text = "\x1f".join("\x00" if v is None else v for v in row.values())
    return hmac.new(key.hex().encode(), text.encode(), hashlib.sha256).digest()[:ROW_HASH_SIZE]


def test_row_hashes_equal_the_standard_hmac_of_each_row() -> None:
    frame = _frame()
    hashes = row_hashes(frame, entity("lead_times"), KEY).to_list()
    assert hashes == [_reference(row, KEY) for row in frame.iter_rows(named=True)]
    assert all(len(h) == ROW_HASH_SIZE for h in hashes)


def test_a_missing_value_and_an_empty_one_hash_differently() -> None:
    hashes = row_hashes(_frame(), entity("lead_times"), KEY).to_list()
    assert len(set(hashes)) == 3


def test_the_hash_depends_on_the_key() -> None:
    spec = entity("lead_times")
    other = bytes(reversed(KEY))
    assert row_hashes(_frame(), spec, KEY).to_list() != row_hashes(_frame(), spec, other).to_list()


def test_extra_attributes_are_part_of_the_hash() -> None:
    spec = entity("customers")
    base = pl.DataFrame({f.name: ["x"] for f in spec.fields})
    plain = row_hashes(base.with_columns(pl.lit('{"a": "1"}').alias("__extra")), spec, KEY)
    other = row_hashes(base.with_columns(pl.lit('{"a": "2"}').alias("__extra")), spec, KEY)
    assert plain.to_list() != other.to_list()


def test_a_typed_column_hashes_as_its_text() -> None:
    """Mapped columns are text, so only others are cast: the hash of a typed column is the
    hash of its text form."""
    spec = entity("lead_times")
    text = _frame()
    name = spec.fields[0].name
    numbers = text.with_columns(pl.Series(name, [10, None, 12], dtype=pl.Int64))
    as_text = text.with_columns(pl.Series(name, ["10", None, "12"]))
    assert row_hashes(numbers, spec, KEY).to_list() == row_hashes(as_text, spec, KEY).to_list()


def test_sealing_row_keys_are_the_natural_keys_joined() -> None:
    """Built by polars for the sealing helper: the same bytes as encoding each key."""
    spec = entity("order_lines")
    frame = pl.DataFrame({"order_no": ["SO1", "SØ22", "S"], "line_no": [1, 10, 3]})
    keys = row_keys(frame, spec)
    expected = RowKeys.of(["SO1/1", "SØ22/10", "S/3"])
    assert keys.data == expected.data
    assert keys.lengths.tolist() == expected.lengths.tolist()
