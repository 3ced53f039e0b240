"""The sealing helper process seals exactly like this process does, and an import survives
the helper dying mid-way."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import pytest

from tierline.platform.encryption import FieldCodec, IntegrityError, LocalKms, sealer
from tierline.platform.encryption.keyring import TenantKeyring, new_wrapped_key

VALUES = np.array([1.5, -0.0, math.nan, 1e300, -7.25, 0.0, 123456.789])
PRESENT = np.array([True, True, True, True, False, True, True])
KEYS = [f"SO{i}/1" for i in range(len(VALUES))]


@pytest.fixture
def codec() -> Iterator[FieldCodec]:
    kms = LocalKms(os.urandom(32))
    keyring = TenantKeyring.unwrap("acme", {1: new_wrapped_key(kms, "acme", 1)}, 1, kms)
    yield FieldCodec(keyring)
    sealer.stop_helper()


def _opened(codec: FieldCodec, sealed: list[bytes | None], column: str) -> list[float | None]:
    return [
        None if v is None else float(v)  # type: ignore[arg-type]
        for v in codec.decrypt_many(sealed, table="order_lines", column=column, row_keys=KEYS)
    ]


def _expected(values: np.ndarray) -> list[float | None]:
    return [float(v) if p else None for v, p in zip(values, PRESENT, strict=True)]


def _same(a: list[float | None], b: list[float | None]) -> bool:
    """Equal value by value, NaN equal to NaN and -0.0 told apart from 0.0."""
    return [repr(v) for v in a] == [repr(v) for v in b]


def test_the_helper_seals_like_this_process(codec: FieldCodec) -> None:
    columns = {"revenue": (VALUES, PRESENT), "margin": (VALUES * 2, PRESENT)}
    here = codec.encrypt_floats(columns, table="order_lines", row_keys=KEYS)
    there = codec.encrypt_floats(
        columns, table="order_lines", row_keys=KEYS, in_helper_process=True
    )
    assert sealer._helper is not None and sealer._helper.alive  # it really ran there
    for column, (values, _) in columns.items():
        assert _same(_opened(codec, there[column], column), _expected(values))
        assert _same(_opened(codec, here[column], column), _expected(values))
        # fresh nonces: the same value never seals to the same bytes twice
        assert all(a != b for a, b in zip(here[column], there[column], strict=True) if a)
    with pytest.raises(IntegrityError):  # still bound to its column
        codec.decrypt(there["revenue"][0], table="order_lines", column="margin", row_key=KEYS[0])


def test_batches_started_before_the_helper_dies_are_sealed_here(codec: FieldCodec) -> None:
    big = np.linspace(0, 1, 50_000)
    keys = [f"k{i}" for i in range(big.size)]
    present = np.ones(big.size, dtype=np.bool_)
    codec.encrypt_floats(  # one batch sealed there: the helper works
        {"revenue": (VALUES, PRESENT)}, table="t", row_keys=KEYS, in_helper_process=True
    )
    started = [
        codec.start_encrypt_floats(
            {"revenue": (big, present)}, table="t", row_keys=keys, in_helper_process=True
        )
        for _ in range(4)
    ]
    helper = sealer._helper
    assert helper is not None
    helper._process.kill()
    for batch in started:
        sealed = batch.result()["revenue"]
        back = codec.decrypt_floats(sealed, table="t", column="revenue", row_keys=keys)
        np.testing.assert_array_equal(back, big)
    again = codec.encrypt_floats(
        {"revenue": (VALUES, PRESENT)}, table="t", row_keys=KEYS, in_helper_process=True
    )
    assert sealer._helper is not None and sealer._helper is not helper  # a new one
    assert _opened_t(codec, again["revenue"]) == _opened_t(
        codec,
        codec.encrypt_floats({"revenue": (VALUES, PRESENT)}, table="t", row_keys=KEYS)["revenue"],
    )


def _opened_t(codec: FieldCodec, sealed: list[bytes | None]) -> list[str]:
    return [repr(v) for v in codec.decrypt_many(sealed, table="t", column="revenue", row_keys=KEYS)]


def test_a_batch_the_helper_cannot_seal_raises_its_error(codec: FieldCodec) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        codec.encrypt_floats(
            {"revenue": (VALUES, PRESENT)}, table="t", row_keys=KEYS[:2], in_helper_process=True
        )


def test_the_helper_ends_when_stopped(codec: FieldCodec) -> None:
    sealer.start_helper()
    helper = sealer._helper
    assert helper is not None
    sealer.stop_helper()
    assert helper._process.poll() is not None and not helper.alive


def test_a_helper_that_cannot_start_is_not_tried_again_at_once(
    codec: FieldCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helper that ends before sealing anything (here: an interpreter that exits at once)
    leaves the batches to this process, and no new helper is started for every batch."""
    import shutil

    false = shutil.which("false")
    assert false is not None
    sealer.stop_helper()
    monkeypatch.setattr(sealer.sys, "executable", false)
    columns = {"revenue": (VALUES, PRESENT)}
    first = codec.encrypt_floats(columns, table="t", row_keys=KEYS, in_helper_process=True)
    failed = sealer._helper
    assert failed is not None and not failed.alive
    second = codec.encrypt_floats(columns, table="t", row_keys=KEYS, in_helper_process=True)
    assert sealer._helper is failed  # not started again
    for sealed in (first, second):
        assert _opened_t(codec, sealed["revenue"]) == [
            repr(float(v)) if p else "None" for v, p in zip(VALUES, PRESENT, strict=True)
        ]
