"""Untrusted documents are refused with a reason before anything costly is built from them."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tierline.platform.documents import (
    Bounds,
    DocumentRefused,
    compose_yaml,
    decode_utf8,
    load_yaml,
    parse_json,
)


def alias_bomb(levels: int) -> str:
    """The 'billion laughs' in YAML: each level repeats the previous one nine times."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_linear_time() -> None:
    bomb = alias_bomb(9)  # ~ 9**9 = 387 million values once expanded
    assert len(bomb.encode()) < 600
    started = time.perf_counter()
    with pytest.raises(DocumentRefused, match="expands to more than 200,000 values"):
        load_yaml(bomb)
    assert time.perf_counter() - started < 1.0
    # ten levels is only one more line: still refused at once
    started = time.perf_counter()
    with pytest.raises(DocumentRefused):
        compose_yaml(alias_bomb(12))
    assert time.perf_counter() - started < 1.0


def test_a_few_aliases_are_fine_and_load_like_pyyaml() -> None:
    text = "base: &base {fill_rate: 0.95}\ngold: *base\nsilver: {<<: *base, otif: 0.9}\n"
    data, node = load_yaml(text)
    assert data == yaml.safe_load(text) and node is not None


def test_too_many_aliases_and_recursive_aliases() -> None:
    many = "x: &x 1\ny: [" + ", ".join(["*x"] * 300) + "]\n"
    with pytest.raises(DocumentRefused, match="more than 200 aliases"):
        compose_yaml(many)
    with pytest.raises(DocumentRefused, match="refers to the node that contains it"):
        compose_yaml("a: &a [1, *a]\n")


def test_deep_nesting_is_a_refusal_not_a_recursion_error() -> None:
    for depth in (100, 5000):
        with pytest.raises(DocumentRefused, match="levels deep"):
            parse_json("[" * depth + "]" * depth)
        with pytest.raises(DocumentRefused, match="levels deep"):
            compose_yaml("[" * depth + "]" * depth)


def test_json_that_postgres_could_not_store_or_python_could_not_convert() -> None:
    with pytest.raises(DocumentRefused, match="NUL character"):
        parse_json('{"name": "a\\u0000b"}')
    with pytest.raises(DocumentRefused, match="NUL character"):
        parse_json('{"a\\u0000": 1}')
    with pytest.raises(DocumentRefused, match="lone"):
        parse_json('{"name": "\\ud800"}')
    with pytest.raises(DocumentRefused, match="number is too large"):
        parse_json("[" + "9" * 5000 + "]")
    with pytest.raises(DocumentRefused, match=r"not valid UTF-8 \(byte 10: 0xff\)"):
        parse_json(b'{"name": \xff}')
    with pytest.raises(DocumentRefused, match="not valid JSON"):
        parse_json(b'{"name": ')
    with pytest.raises(DocumentRefused) as too_big:
        parse_json(b"[" + b"1," * 600_000 + b"1]")
    assert too_big.value.status_code == 413


def test_text_is_checked_for_size_encoding_and_nul() -> None:
    with pytest.raises(DocumentRefused, match="line 2"):
        decode_utf8(b"ok\nbad \x00 here")
    with pytest.raises(DocumentRefused, match="line 3"):
        decode_utf8(b"a\nb\n\xc3\x28")
    with pytest.raises(DocumentRefused) as too_big:
        decode_utf8(b"x" * 11, Bounds(max_bytes=10))
    assert too_big.value.status_code == 413


@given(
    st.recursive(
        st.none() | st.integers(-(2**63), 2**63 - 1) | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=30,
    )
)
def test_ordinary_json_round_trips(value: object) -> None:
    import json

    text = json.dumps(value)
    has_bad_text = "\\u0000" in text or "\\ud8" in text or "\\udc" in text or "\\ud9" in text
    if has_bad_text:
        return
    assert parse_json(text) == value
