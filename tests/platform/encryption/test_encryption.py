"""Field-level encryption codec: pure unit tests, no database."""

from __future__ import annotations

import base64
import math
import os
import pickle
import stat
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierline.platform.encryption import (
    FORMAT_VERSION,
    INTEGRITY_ERROR,
    MASKED,
    FieldCodec,
    IntegrityError,
    KeyUnwrapError,
    LocalKms,
    TenantKeyring,
    UnknownKeyVersionError,
    key_version_of,
    load_master_key,
    mask_value,
    new_wrapped_key,
    page_value,
    read_header,
)
from tierline.platform.encryption._canonical import encode_parts
from tierline.platform.encryption.codec import RowKeys, row_associated_data

CELL = {"table": "item_margin", "column": "margin", "row_key": "item-1"}
SECRET = "super-secret-plaintext-7f3a"


def make_keyring(kms: LocalKms, tenant: str = "acme", versions: int = 1) -> TenantKeyring:
    wrapped = {v: new_wrapped_key(kms, tenant, v) for v in range(1, versions + 1)}
    return TenantKeyring.unwrap(tenant, wrapped, versions, kms)


@pytest.fixture
def kms() -> LocalKms:
    return LocalKms(os.urandom(32))


@pytest.fixture
def codec(kms: LocalKms) -> FieldCodec:
    return FieldCodec(make_keyring(kms))


def same(a: object, b: object) -> bool:
    """Equal value and type; NaN equals NaN, and Decimals compare by exact text."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("12.3400"),
        Decimal("-0"),
        Decimal("1E+3"),
        Decimal("0.000000000000000000000000000001"),
        Decimal("NaN"),
        0,
        -42,
        10**40,
        0.1,
        -0.0,
        1e-300,
        math.inf,
        math.nan,
        "",
        "Müller & Söhne — 北京 🚚",
        b"",
        b"PAR1\x00\xff whole documents",
    ],
    ids=repr,
)
def test_round_trip_keeps_value_and_type(codec: FieldCodec, value: object) -> None:
    blob = codec.encrypt(value, **CELL)  # type: ignore[arg-type]
    assert isinstance(blob, bytes)
    assert same(codec.decrypt(blob, **CELL), value)


def test_decimal_keeps_exact_text(codec: FieldCodec) -> None:
    back = codec.decrypt(codec.encrypt(Decimal("12.3400"), **CELL), **CELL)
    assert isinstance(back, Decimal)
    assert str(back) == "12.3400"
    assert back.as_tuple() == Decimal("12.3400").as_tuple()


def test_none_is_not_encrypted(codec: FieldCodec) -> None:
    assert codec.encrypt(None, **CELL) is None
    assert codec.decrypt(None, **CELL) is None


def test_subclasses_decode_as_their_base_type(codec: FieldCodec) -> None:
    back = codec.decrypt(codec.encrypt(np.float64(1.5), **CELL), **CELL)
    assert type(back) is float and back == 1.5


@pytest.mark.parametrize("value", [True, [1], bytearray(b"raw"), 1 + 2j])
def test_unsupported_types_are_refused(codec: FieldCodec, value: object) -> None:
    with pytest.raises(TypeError):
        codec.encrypt(value, **CELL)  # type: ignore[arg-type]


def test_same_value_encrypts_differently_each_time(codec: FieldCodec) -> None:
    assert codec.encrypt(1.0, **CELL) != codec.encrypt(1.0, **CELL)


values = st.one_of(
    st.none(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)


@given(value=values, row_key=st.text())
def test_round_trip_property(value: object, row_key: str) -> None:
    codec = FieldCodec(make_keyring(LocalKms(b"k" * 32)))
    cell = {"table": "t", "column": "c", "row_key": row_key}
    assert same(codec.decrypt(codec.encrypt(value, **cell), **cell), value)  # type: ignore[arg-type]


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(10**6), 10**6))))
def test_batch_round_trip_property(batch: list[float | int | None]) -> None:
    codec = FieldCodec(make_keyring(LocalKms(b"k" * 32)))
    keys = [f"row-{i}" for i in range(len(batch))]
    blobs = codec.encrypt_many(batch, table="t", column="c", row_keys=keys)
    back = codec.decrypt_many(blobs, table="t", column="c", row_keys=keys)
    assert all(same(a, b) for a, b in zip(back, batch, strict=True))
    floats = codec.decrypt_floats(blobs, table="t", column="c", row_keys=keys)
    expected = np.array([math.nan if v is None else float(v) for v in batch], dtype=np.float64)
    np.testing.assert_array_equal(floats, expected)


@given(st.lists(st.tuples(st.one_of(st.none(), st.floats()), st.one_of(st.none(), st.floats()))))
def test_encrypt_floats_seals_like_encrypt_many(
    rows: list[tuple[float | None, float | None]],
) -> None:
    """The bulk-load path: each column opens with the single-value API to the same float (NaN
    and -0.0 included), ``None`` stays ``None``, and a value is bound to its own column."""
    codec = FieldCodec(make_keyring(LocalKms(b"k" * 32)))
    keys = [f"SO{i}/1" for i in range(len(rows))]
    columns = {
        name: (
            np.array([0.0 if v is None else v for v in values], dtype=np.float64),
            np.array([v is not None for v in values], dtype=np.bool_),
        )
        for name, values in zip(
            ("revenue", "margin"), zip(*rows, strict=True) if rows else ((), ()), strict=True
        )
    }
    sealed = codec.encrypt_floats(columns, table="order_lines", row_keys=keys)
    for position, (name, _) in enumerate(columns.items()):
        back = codec.decrypt_many(sealed[name], table="order_lines", column=name, row_keys=keys)
        assert all(same(b, r[position]) for b, r in zip(back, rows, strict=True))
    if rows and rows[0][0] is not None:
        with pytest.raises(IntegrityError):
            codec.decrypt(
                sealed["revenue"][0], table="order_lines", column="margin", row_key=keys[0]
            )


def test_encrypt_floats_checks_lengths(codec: FieldCodec) -> None:
    values = (np.array([1.0, 2.0]), np.array([True, True]))
    with pytest.raises(ValueError, match="revenue: values, presence and row keys differ"):
        codec.encrypt_floats({"revenue": values}, table="t", row_keys=["a"])


# --- integrity ----------------------------------------------------------------------------------


def test_tampering_with_any_byte_fails(codec: FieldCodec) -> None:
    blob = codec.encrypt(Decimal("19.99"), **CELL)
    assert blob is not None
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(IntegrityError):
            codec.decrypt(bytes(tampered), **CELL)


@pytest.mark.parametrize("length", [0, 1, 5, 17, 32])
def test_truncated_value_fails(codec: FieldCodec, length: int) -> None:
    blob = codec.encrypt(1.0, **CELL)
    assert blob is not None
    with pytest.raises(IntegrityError, match="truncated"):
        codec.decrypt(blob[:length], **CELL)


@pytest.mark.parametrize(
    "moved",
    [
        {"row_key": "item-2"},
        {"column": "cost"},
        {"table": "order_line"},
    ],
    ids=["row", "column", "table"],
)
def test_value_copied_to_another_cell_fails(codec: FieldCodec, moved: dict[str, str]) -> None:
    blob = codec.encrypt(SECRET, **CELL)
    with pytest.raises(IntegrityError, match="copied from another") as info:
        codec.decrypt(blob, **{**CELL, **moved})
    error = info.value
    target = {**CELL, **moved}
    assert (error.table, error.column, error.row_key) == (
        target["table"],
        target["column"],
        target["row_key"],
    )
    for part in target.values():
        assert part in str(error)
    assert SECRET not in str(error)


def test_value_copied_to_another_tenant_fails_even_with_the_same_key_bytes() -> None:
    key = os.urandom(32)
    acme = FieldCodec(TenantKeyring("acme", {1: key}, 1))
    globex = FieldCodec(TenantKeyring("globex", {1: key}, 1))
    blob = acme.encrypt(SECRET, **CELL)
    with pytest.raises(IntegrityError):
        globex.decrypt(blob, **CELL)


def test_value_copied_to_another_tenant_fails(kms: LocalKms) -> None:
    blob = FieldCodec(make_keyring(kms, "acme")).encrypt(SECRET, **CELL)
    with pytest.raises(IntegrityError):
        FieldCodec(make_keyring(kms, "globex")).decrypt(blob, **CELL)


def test_associated_data_encoding_is_unambiguous(codec: FieldCodec) -> None:
    assert encode_parts("ab", "c") != encode_parts("a", "bc")
    assert encode_parts("a", "") != encode_parts("", "a")
    blob = codec.encrypt(1.0, table="ab", column="c", row_key="x")
    with pytest.raises(IntegrityError):
        codec.decrypt(blob, table="a", column="bc", row_key="x")
    blob = codec.encrypt(1.0, table="t", column="c/d", row_key="x")
    with pytest.raises(IntegrityError):
        codec.decrypt(blob, table="t/c", column="d", row_key="x")


@given(st.lists(st.text(), max_size=4), st.lists(st.text(), max_size=4))
def test_associated_data_encoding_is_injective(a: list[str], b: list[str]) -> None:
    assert (encode_parts(*a) == encode_parts(*b)) == (a == b)


# --- stored format and key versions -------------------------------------------------------------


def test_format_and_key_version_are_in_the_header(kms: LocalKms) -> None:
    codec = FieldCodec(make_keyring(kms, versions=3))
    blob = codec.encrypt(2.5, **CELL)
    assert blob is not None
    assert blob[0] == FORMAT_VERSION == 1
    assert int.from_bytes(blob[1:5], "big") == 3
    assert key_version_of(blob) == 3
    assert read_header(blob) == (1, 3)
    assert len(blob) == 1 + 4 + 12 + (1 + 8) + 16  # float plaintext: tag + IEEE 754 double


def test_unknown_format_version_is_rejected(codec: FieldCodec) -> None:
    blob = codec.encrypt(2.5, **CELL)
    assert blob is not None
    future = bytes((2,)) + blob[1:]
    with pytest.raises(IntegrityError, match="unknown format version 2"):
        codec.decrypt(future, **CELL)
    with pytest.raises(ValueError, match="format version"):
        key_version_of(future)
    with pytest.raises(ValueError, match="too short"):
        key_version_of(b"\x01\x00")


def test_rotation_keeps_old_versions_readable_and_reencrypts(kms: LocalKms) -> None:
    tenant = "acme"
    wrapped = {1: new_wrapped_key(kms, tenant, 1)}
    old = FieldCodec(TenantKeyring.unwrap(tenant, wrapped, 1, kms))
    values = [Decimal("1.10"), None, 3, "x", 2.5]
    keys = [f"r{i}" for i in range(len(values))]
    blobs = old.encrypt_many(values, table="item", column="margin", row_keys=keys)

    wrapped[2] = new_wrapped_key(kms, tenant, 2)
    new = FieldCodec(TenantKeyring.unwrap(tenant, wrapped, 2, kms))
    assert all(
        same(a, b)
        for a, b in zip(
            new.decrypt_many(blobs, table="item", column="margin", row_keys=keys),
            values,
            strict=True,
        )
    )

    rotated = new.reencrypt_many(blobs, table="item", column="margin", row_keys=keys)
    assert [None if b is None else key_version_of(b) for b in rotated] == [2, None, 2, 2, 2]
    assert all(
        same(a, b)
        for a, b in zip(
            new.decrypt_many(rotated, table="item", column="margin", row_keys=keys),
            values,
            strict=True,
        )
    )

    # A second run rewrites nothing: the job may safely run more than once.
    again = new.reencrypt_many(rotated, table="item", column="margin", row_keys=keys)
    assert all(a is b for a, b in zip(again, rotated, strict=True))

    # Once version 1 is retired, only the rotated values still decrypt.
    only_v2 = FieldCodec(TenantKeyring.unwrap(tenant, {2: wrapped[2]}, 2, kms))
    assert same(
        only_v2.decrypt(rotated[0], table="item", column="margin", row_key="r0"), Decimal("1.10")
    )
    with pytest.raises(UnknownKeyVersionError, match="version 1"):
        only_v2.decrypt(blobs[0], table="item", column="margin", row_key="r0")


def test_reencrypt_refuses_to_rewrite_a_bad_value(kms: LocalKms) -> None:
    codec = FieldCodec(make_keyring(kms, versions=2))
    old = FieldCodec(TenantKeyring("acme", {1: b"\x00" * 32}, 1))
    blob = old.encrypt(1.0, **CELL)
    with pytest.raises(IntegrityError):
        codec.reencrypt(blob, **CELL)


# --- batches ------------------------------------------------------------------------------------


def test_batch_mark_mode_flags_only_the_bad_cell(codec: FieldCodec) -> None:
    keys = ["a", "b", "c", "d"]
    blobs = codec.encrypt_many(
        [1.5, None, Decimal("2.25"), 4], table="t", column="c", row_keys=keys
    )
    blobs[2] = blobs[0]  # row a's value pasted into row c

    marked = codec.decrypt_many(blobs, table="t", column="c", row_keys=keys, on_error="mark")
    assert marked == [1.5, None, INTEGRITY_ERROR, 4]
    assert str(INTEGRITY_ERROR) == "integrity error"

    floats = codec.decrypt_floats(blobs, table="t", column="c", row_keys=keys, on_error="mark")
    assert floats.dtype == np.float64
    np.testing.assert_array_equal(floats, [1.5, math.nan, math.nan, 4.0])

    with pytest.raises(IntegrityError, match="'c'"):
        codec.decrypt_many(blobs, table="t", column="c", row_keys=keys)
    with pytest.raises(IntegrityError, match="'c'"):
        codec.decrypt_floats(blobs, table="t", column="c", row_keys=keys)


def test_decrypt_floats_column_of_floats(codec: FieldCodec) -> None:
    """A column holding only floats and NULLs takes the bulk-parse path; it must be exact."""
    values = [0.1, -0.0, math.inf, -math.inf, None, 5e-324, 1.7976931348623157e308, math.nan]
    keys = [f"k{i}" for i in range(len(values))]
    blobs = codec.encrypt_many(values, table="t", column="c", row_keys=keys)
    floats = codec.decrypt_floats(blobs, table="t", column="c", row_keys=keys)
    expected = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    assert floats.tobytes() == expected.tobytes()  # bit-exact, including the sign of zero

    blobs[0] = blobs[1]
    marked = codec.decrypt_floats(blobs, table="t", column="c", row_keys=keys, on_error="mark")
    assert math.isnan(marked[0]) and math.isnan(marked[4])
    np.testing.assert_array_equal(marked[1:4], expected[1:4])


def test_decrypt_floats_of_an_empty_batch(codec: FieldCodec) -> None:
    empty = codec.decrypt_floats([], table="t", column="c", row_keys=[])
    assert empty.dtype == np.float64 and empty.shape == (0,)


def test_batch_arguments_are_checked(codec: FieldCodec) -> None:
    with pytest.raises(ValueError, match="2 values but 1 row keys"):
        codec.encrypt_many([1.0, 2.0], table="t", column="c", row_keys=["a"])
    with pytest.raises(ValueError, match="on_error"):
        codec.decrypt_many([], table="t", column="c", row_keys=[], on_error="ignore")  # type: ignore[call-overload]


def test_a_row_key_that_is_not_text_is_not_reported_as_integrity_error(codec: FieldCodec) -> None:
    blob = codec.encrypt(1.0, **CELL)
    with pytest.raises(UnicodeEncodeError):
        codec.decrypt(blob, table="t", column="c", row_key="\ud800")


def test_decrypt_floats_refuses_text_values(codec: FieldCodec) -> None:
    blobs = codec.encrypt_many(["1.5"], table="t", column="c", row_keys=["a"])
    with pytest.raises(TypeError, match="non-numeric"):
        codec.decrypt_floats(blobs, table="t", column="c", row_keys=["a"])


# --- keys and the KMS ---------------------------------------------------------------------------


def test_wrong_master_key_fails_unwrap(kms: LocalKms) -> None:
    wrapped = new_wrapped_key(kms, "acme", 1)
    with pytest.raises(KeyUnwrapError, match="master key"):
        TenantKeyring.unwrap("acme", {1: wrapped}, 1, LocalKms(os.urandom(32)))


def test_wrapped_key_is_bound_to_tenant_and_version(kms: LocalKms) -> None:
    wrapped = new_wrapped_key(kms, "acme", 1)
    with pytest.raises(KeyUnwrapError):
        TenantKeyring.unwrap("globex", {1: wrapped}, 1, kms)
    with pytest.raises(KeyUnwrapError):
        TenantKeyring.unwrap("acme", {2: wrapped}, 2, kms)
    with pytest.raises(KeyUnwrapError, match="malformed"):
        TenantKeyring.unwrap("acme", {1: wrapped[:10]}, 1, kms)


def test_keyring_validates_its_keys() -> None:
    with pytest.raises(ValueError, match="active key version 2"):
        TenantKeyring("acme", {1: b"k" * 32}, 2)
    with pytest.raises(ValueError, match="32 bytes"):
        TenantKeyring("acme", {1: b"short"}, 1)
    with pytest.raises(ValueError, match="key version"):
        TenantKeyring("acme", {0: b"k" * 32}, 0)
    with pytest.raises(ValueError, match="32 bytes"):
        LocalKms(b"short")


def test_reprs_do_not_show_key_material(kms: LocalKms) -> None:
    keyring = make_keyring(kms, versions=2)
    key = keyring.active_key
    for text in (repr(kms), repr(keyring), repr(FieldCodec(keyring)), repr(key)):
        assert key.key.hex() not in text
        assert repr(key.key) not in text
    assert kms.key_id.startswith("local:")
    assert keyring.versions == (1, 2)


# --- master key ---------------------------------------------------------------------------------


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_master_key(None, data_dir)
    path = data_dir / "master.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(path.read_bytes().strip()) == key
    assert load_master_key(None, data_dir) == key
    assert [p.name for p in data_dir.iterdir()] == ["master.key"]  # no temp file left behind


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_master_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    load_master_key(None, tmp_path)
    (tmp_path / "master.key").chmod(mode)
    with pytest.raises(ValueError, match=r"owner only.*chmod 600"):
        load_master_key(None, tmp_path)


def test_corrupt_master_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"too-short\n")
    os.close(fd)
    with pytest.raises(ValueError, match="master key file"):
        load_master_key(None, tmp_path)


@pytest.mark.parametrize(
    "encode",
    [
        base64.b64encode,
        base64.urlsafe_b64encode,
        lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"="),
    ],
    ids=["standard", "urlsafe", "unpadded"],
)
def test_master_key_setting_accepts_base64_forms(
    tmp_path: Path, encode: Callable[[bytes], bytes]
) -> None:
    raw = bytes(range(250, 256)) + os.urandom(26)  # leading bytes that need +/ or -_
    assert load_master_key(encode(raw).decode() + "\n", tmp_path) == raw
    assert not (tmp_path / "master.key").exists()  # the setting wins; no file is made


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not base64 at all!", "not valid base64"),
        (base64.b64encode(os.urandom(16)).decode(), "exactly 32 bytes, it decodes to 16"),
        (base64.b64encode(os.urandom(33)).decode(), "exactly 32 bytes, it decodes to 33"),
        (os.urandom(32).hex(), "decodes to 48"),
    ],
    # fixed ids: random values in ids differ between xdist workers, which then refuse to run
    ids=["empty", "blank", "not-base64", "16-bytes", "33-bytes", "hex"],
)
def test_bad_master_key_setting_is_refused_clearly(value: str, message: str) -> None:
    with pytest.raises(ValueError, match="TIERLINE_MASTER_KEY") as info:
        load_master_key(value, Path("/nonexistent"))
    assert message in str(info.value)
    if value.strip():
        assert value not in str(info.value)


# --- masking ------------------------------------------------------------------------------------


def test_masking_helpers() -> None:
    assert mask_value(Decimal("1.5"), allowed=True) == (Decimal("1.5"), False)
    assert mask_value(Decimal("1.5"), allowed=False) == (None, True)
    assert page_value(2.0, allowed=True) == 2.0
    assert page_value(2.0, allowed=False) == MASKED == "•••"


@given(st.text(max_size=6), st.lists(st.text(max_size=12), max_size=40))
def test_row_associated_data_is_the_prefix_and_each_length_prefixed_key(
    prefix: str, keys: list[str]
) -> None:
    """Laid out by numpy per key length, equal to concatenating each row's part: keys of
    mixed lengths, empty and non-ASCII keys, zero bytes in the prefix."""
    head = b"\x00" + prefix.encode()
    assert row_associated_data(head, RowKeys.of(keys)) == [head + encode_parts(key) for key in keys]


def test_row_keys_travel_to_the_helper_and_must_add_up() -> None:
    keys = RowKeys.of(["SO1/1", "SO1/10", "ü"])
    back = pickle.loads(pickle.dumps(keys))
    assert (back.data, back.lengths.tolist(), len(back)) == (b"SO1/1SO1/10\xc3\xbc", [5, 6, 2], 3)
    with pytest.raises(ValueError, match="do not add up"):
        RowKeys(b"abc", np.array([1, 1], dtype=np.int64))


def test_large_batches_are_sealed_in_slices_that_open_like_one(
    codec: FieldCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierline.platform.encryption import codec as codec_module

    monkeypatch.setattr(codec_module, "_SEAL_SLICE", 3)
    keys = [f"SO{i}/{i % 4}" for i in range(10)]  # mixed lengths across slices
    values = np.arange(10, dtype=np.float64) * 1.5
    present = np.ones(10, dtype=np.bool_)
    sealed = codec.encrypt_floats({"revenue": (values, present)}, table="t", row_keys=keys)
    back = codec.decrypt_many(sealed["revenue"], table="t", column="revenue", row_keys=keys)
    assert back == [float(v) for v in values]
    assert len(set(sealed["revenue"])) == 10  # fresh nonces in every slice
    part = RowKeys.of(keys).slice(3, 7)
    assert (part.data, part.lengths.tolist()) == (RowKeys.of(keys[3:7]).data, [5, 5, 5, 5])
