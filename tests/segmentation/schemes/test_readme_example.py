"""The README's annotated scheme is the shipped ``customer_service`` template, and every setting
it shows says its default truthfully: ``(default)`` where the value shown is the model's
default, ``(default: X)`` where the example chooses another value. One source: the msgspec
model (``schemes/model.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

from tierline.segmentation.schemes.document import Scheme, load_template, parse_scheme
from tierline.segmentation.schemes.lines import load_text

README = Path(__file__).resolve().parents[3] / "README.md"
HEADING = "### A complete scheme, annotated"
REQUIRED = {"code", "name", "entity", "segments", "tree"}
COMMENT = re.compile(r"\s#\s(.*)$")
MARKER = re.compile(r"\(default(?::\s*([^)]*))?\)")


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    block = text.split(HEADING, 1)[1].split("```yaml\n", 1)[1]
    return block.split("```", 1)[0]


def model_defaults() -> dict[str, Any]:
    """Every scalar setting of a minimal scheme (xyz declared), as the model fills it."""
    minimal = parse_scheme(
        "code: dd\nname: D\nentity: customer\nsegments: [{code: S, name: S, rank: 1}]\n"
        "classifiers: {xyz: {}}\ntree: [{segment: S}]\n"
    ).scheme
    flat: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else key)
        elif not isinstance(value, list) and value is not None:
            flat[path] = value

    data = msgspec.to_builtins(minimal)  # every field, later keys included
    for key in REQUIRED:
        data.pop(key)
    walk(data, "")
    return flat


def value_at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


def test_the_readme_example_is_the_shipped_template() -> None:
    assert readme_example() == load_template("customer_service")
    assert "(defaults shown)" not in README.read_text(encoding="utf-8")


def test_every_setting_the_readme_shows_states_the_models_default() -> None:
    example = readme_example()
    data, lines = load_text(example)
    source = example.splitlines()
    defaults = model_defaults()
    assert {"variability.bucket", "stability.consecutive_runs", "schedule.frequency"} <= set(
        defaults
    )
    checked = []
    for path, default in sorted(defaults.items()):
        if path not in lines:
            continue  # not shown in the example
        number = lines[path]
        comment = COMMENT.search(source[number - 1])
        marker = MARKER.search(comment.group(1)) if comment else None
        if marker is None and number < len(source):  # a comment continued on the next line
            follow = COMMENT.search(" " + source[number].strip())
            if follow and not source[number].strip().split("#")[0].strip():
                marker = MARKER.search(follow.group(1))
        assert marker is not None, f"README line {number} shows {path} without its default"
        stated = marker.group(1)
        if stated is None:  # "(default)": the value shown is the default
            assert value_at(data, path) == default, (path, value_at(data, path), default)
        else:  # "(default: X)": the example differs, X is the default
            assert yaml.safe_load(stated) == default, (path, stated, default)
            assert value_at(data, path) != default, f"{path}: say (default), not (default: X)"
        checked.append(path)
    assert len(checked) >= 15, checked  # the example shows (nearly) every setting


def test_the_defaults_in_the_model_are_the_ones_tenants_run_today() -> None:
    # The README was fixed to match these (the code's defaults are what runs today).
    defaults = model_defaults()
    assert defaults["variability.bucket"] == "month"
    assert defaults["variability.since"] == "window"
    assert defaults["schedule.frequency"] == "manual"
    assert defaults["stability.consecutive_runs"] == 1
    assert defaults["stability.margin_band"] == 0.0 and defaults["stability.spike_share"] == 1.0
    assert defaults["reclassification.max_share_moving"] == 1.0
    assert defaults["reclassification.max_tier_jump"] == 20
    assert isinstance(parse_scheme(readme_example()).scheme, Scheme)
