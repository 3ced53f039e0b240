"""Run every benchmark (``python -m bench``) or the ones named (``python -m bench migrate``)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
wanted = set(sys.argv[1:])
for path in sorted(here.glob("bench_*.py")):
    name = path.stem.removeprefix("bench_")
    if wanted and name not in wanted:
        continue
    print(f"== {name}", flush=True)
    runpy.run_path(str(path), run_name="__main__")
