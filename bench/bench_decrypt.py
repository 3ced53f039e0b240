"""Decrypting margin values: the codec's float fast path against bare AES-GCM calls.

(a) a bare loop calling ``AESGCM.decrypt(nonce, ct, ad)`` on triples prepared in advance, and
(b) ``FieldCodec.decrypt_floats`` on the stored blobs, which also parses headers, builds the
associated data per row and parses the floats. Target: (b) within 3x of (a).

Run ``python -m bench.bench_decrypt`` (or ``python bench/bench_decrypt.py``); ``--n`` sets the
number of values. Writes ``bench/results/decrypt.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cryptography
import numpy as np

from tierline.platform.encryption import FieldCodec, LocalKms, TenantKeyring, new_wrapped_key
from tierline.platform.encryption._canonical import encode_parts
from tierline.platform.encryption.codec import _AD_DOMAIN, _BODY_START, HEADER_SIZE

TENANT, TABLE, COLUMN = "acme", "item_location", "margin"
TARGET_RATIO = 3.0
RESULT_FILE = Path(__file__).resolve().parent / "results" / "decrypt.json"

Triple = tuple[bytes, bytes, bytes]


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """Fastest wall time of ``runs`` calls; a full collection first so runs start alike."""
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_codec() -> FieldCodec:
    kms = LocalKms(os.urandom(32))
    wrapped = {1: new_wrapped_key(kms, TENANT, 1)}
    return FieldCodec(TenantKeyring.unwrap(TENANT, wrapped, 1, kms))


def bare_triples(blobs: list[bytes | None], row_keys: list[str]) -> list[Triple]:
    """(nonce, ciphertext, associated data) exactly as the codec feeds them to AES-GCM."""
    triples = []
    for blob, row_key in zip(blobs, row_keys, strict=True):
        assert blob is not None
        ad = blob[:HEADER_SIZE] + encode_parts(_AD_DOMAIN, TENANT, TABLE, COLUMN, row_key)
        triples.append((blob[HEADER_SIZE:_BODY_START], blob[_BODY_START:], ad))
    return triples


def run(n: int, runs: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    margins = rng.normal(0.25, 0.1, n).tolist()
    row_keys = [f"item-{i:07d}@loc-{i % 64:02d}" for i in range(n)]
    codec = make_codec()

    start = time.perf_counter()
    blobs = codec.encrypt_many(margins, table=TABLE, column=COLUMN, row_keys=row_keys)
    encrypt_seconds = time.perf_counter() - start

    triples = bare_triples(blobs, row_keys)
    decrypt = codec.keyring.aeads()[1].decrypt

    def bare() -> None:
        for nonce, ct, ad in triples:
            decrypt(nonce, ct, ad)

    def through_codec() -> None:
        codec.decrypt_floats(blobs, table=TABLE, column=COLUMN, row_keys=row_keys)

    # Both paths must really decrypt the same data before their timings mean anything.
    bare()
    decoded = codec.decrypt_floats(blobs, table=TABLE, column=COLUMN, row_keys=row_keys)
    assert np.array_equal(decoded, np.array(margins)), "decrypt_floats returned other values"

    bare_seconds = best_of(runs, bare)
    codec_seconds = best_of(runs, through_codec)
    return {
        "n": n,
        "runs": runs,
        "bare_seconds": round(bare_seconds, 4),
        "codec_seconds": round(codec_seconds, 4),
        "bare_values_per_s": round(n / bare_seconds),
        "codec_values_per_s": round(n / codec_seconds),
        "ratio": round(codec_seconds / bare_seconds, 3),
        "target_ratio": TARGET_RATIO,
        "within_target": codec_seconds / bare_seconds <= TARGET_RATIO,
        "encrypt_many_seconds": round(encrypt_seconds, 4),
        "encrypt_many_values_per_s": round(n / encrypt_seconds),
        "python": sys.version.split()[0],
        "cryptography": cryptography.__version__,
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1_000_000, help="number of values")
    parser.add_argument("--runs", type=int, default=3, help="take the best of this many runs")
    # Known args only: ``python -m bench decrypt`` runs this file with the runner's arguments.
    args, _ = parser.parse_known_args(argv)

    result = run(args.n, args.runs)
    print(f"values:                     {result['n']:,}")
    print(f"(a) bare AESGCM.decrypt:    {result['bare_values_per_s']:>12,} values/s")
    print(f"(b) codec.decrypt_floats:   {result['codec_values_per_s']:>12,} values/s")
    print(f"ratio (b)/(a):              {result['ratio']:.2f}x (target <= {TARGET_RATIO:.0f}x)")
    print(f"encrypt_many:               {result['encrypt_many_values_per_s']:>12,} values/s")
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULT_FILE}")


if __name__ == "__main__":
    main()
