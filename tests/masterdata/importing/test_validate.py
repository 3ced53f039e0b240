"""Mapping source text to attributes: trimming, value translation, empty means absent."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tierline.masterdata.importing.entities import entity
from tierline.masterdata.importing.reader import LINE
from tierline.masterdata.importing.validate import map_columns, typed_frame
from tierline.masterdata.profiles.definition import Profile


def test_blank_and_translated_to_empty_values_are_absent() -> None:
    spec = entity("products")
    profile = Profile(
        name="t", entity="products", values={"lifecycle": {"OLD": "phase_out", "X": ""}}
    )
    chunk = pl.DataFrame(
        {
            LINE: pl.Series([2, 3, 4, 5], dtype=pl.UInt32),
            "sku": ["  A1 ", "B2", "C3", "D4"],
            "description": ["", "   ", None, " Widget "],
            "lifecycle": ["OLD", " X ", "", "active"],
        }
    )
    mapped = map_columns(chunk, profile, spec)
    assert mapped["sku"].to_list() == ["A1", "B2", "C3", "D4"]
    assert mapped["description"].to_list() == [None, None, None, "Widget"]
    assert mapped["lifecycle"].to_list() == ["phase_out", None, None, "active"]
    # a column the file does not have is absent on every row
    assert mapped["base_uom"].to_list() == [None] * 4


def test_iso_timestamps_with_an_offset_are_read_as_utc() -> None:
    spec = entity("order_lines")
    frame = pl.DataFrame(
        {f.name: pl.Series([None, None], dtype=pl.String) for f in spec.fields}
    ).with_columns(
        pl.Series(
            "source_updated_at", ["2024-12-16T16:51:20.250000+0200", "2024-12-16T23:00:00-0130"]
        )
    )
    typed = typed_frame(frame, spec, Profile(name="t", entity="order_lines").options)
    utc = dt.UTC
    assert typed["source_updated_at"].to_list() == [
        dt.datetime(2024, 12, 16, 14, 51, 20, 250000, tzinfo=utc),
        dt.datetime(2024, 12, 17, 0, 30, tzinfo=utc),
    ]
