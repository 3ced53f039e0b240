"""``write_csv``: the data set as one CSV file per entity, ready for the generic import profile."""

from __future__ import annotations

from pathlib import Path

from tierline.demo.synthetic.dataset import SyntheticDataset


def write_csv(dataset: SyntheticDataset, directory: Path) -> dict[str, Path]:
    """One ``<entity>.csv`` per entity with a header row: ISO dates, UTC timestamps ending in
    ``Z``, ``true``/``false``, ``.`` as decimal mark, empty fields for missing values."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in dataset.frames().items():
        path = directory / f"{name}.csv"
        frame.write_csv(
            path,
            include_header=True,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%dT%H:%M:%SZ",
            float_scientific=False,
            null_value="",
        )
        written[name] = path
    return written
