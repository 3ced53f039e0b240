"""Ready-made scheme templates shipped in ``tierline/segmentation/schemes/library/*.yaml``.

Tenants start from one of these rather than a blank page; the text is returned as is, comments
included, so an editor shows the explanations next to the keys.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable


def _library() -> Traversable:
    return resources.files("tierline.segmentation.schemes") / "library"


def template_names() -> list[str]:
    """Names of the shipped templates (file names without ``.yaml``), sorted."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in _library().iterdir()
        if entry.name.endswith(".yaml")
    )


def load_template(name: str) -> str:
    """The YAML text of one template; KeyError for a name not in ``template_names()``."""
    if name not in template_names():
        raise KeyError(f"no scheme template named {name!r}")
    return (_library() / f"{name}.yaml").read_text(encoding="utf-8")
