"""The shape of the code, read from the sources (nothing is imported): dependencies point one way.

- The chassis (``tierline.platform``) imports no domain, except through ``platform/assembly.py``;
  ``policies`` is the bottom layer every package may use.
- A domain imports the chassis, ``policies``, its own modules and, of another domain, only its
  ``service`` module: never its models, controllers or anything else.
- Modules stay small enough to read; segmentation keeps its capabilities in sub-packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tierline"
BOTTOM = {"platform", "policies"}
MAX_LINES = 900
MAX_SEGMENTATION_TOP_MODULES = 6


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """Every module named by an import anywhere in the file (function bodies too), absolute;
    ``from a import b`` yields ``a.b`` (b may be a module or a name: both are checked)."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _owner(module: str) -> str | None:
    """The top-level package of a ``tierline`` module (``platform``, ``segmentation``...)."""
    parts = module.split(".")
    if parts[0] != "tierline" or len(parts) < 2:
        return None
    return parts[1]


def _allowed(importer: str, imported: str) -> bool:
    mine, theirs = _owner(importer), _owner(imported)
    if theirs is None or theirs == mine or theirs in {"policies"}:
        return True
    if theirs == "platform":
        return mine != "policies" or imported.startswith("tierline.platform.")
    if mine == "platform":
        return importer == "tierline.platform.assembly"
    # another domain: its service module (``tierline.<domain>.service[.name]``) only
    parts = imported.split(".")
    return len(parts) >= 3 and parts[2] == "service"


def test_dependencies_point_one_way() -> None:
    broken = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {imported}"
        for module, path in _modules()
        for line, imported in _imports(module, path)
        if imported.startswith("tierline.") and not _allowed(module, imported)
    ]
    assert broken == [], "\n".join(broken)


def test_no_domain_reads_another_domains_models_or_controllers() -> None:
    """The chassis' tables (users, jobs, audit) are part of its public face; its controllers,
    like every domain's, are not."""
    broken = []
    for module, path in _modules():
        for line, imported in _imports(module, path):
            mine, theirs = _owner(module), _owner(imported)
            if theirs in (None, mine) or not imported.startswith("tierline."):
                continue
            private = ("controllers",) if theirs == "platform" else ("models", "controllers")
            if any(part.endswith(private) for part in imported.split(".")[2:]):
                broken.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {imported}")
    assert broken == [], "\n".join(broken)


def test_the_rule_is_checked_on_real_imports() -> None:
    """The walk sees imports in function bodies, relative ones, and names the chassis' own."""
    found = {imported for module, path in _modules() for _line, imported in _imports(module, path)}
    assert "tierline.platform.tenancy.tenant_session" in found
    assert not _allowed("tierline.platform.app", "tierline.segmentation.service")
    assert _allowed("tierline.platform.assembly", "tierline.segmentation.plugin")
    assert not _allowed("tierline.portal.service", "tierline.segmentation.models.Segment")
    assert _allowed("tierline.portal.service", "tierline.service_levels.service.in_force")
    assert _allowed("tierline.segmentation.runs.service", "tierline.policies.grants")


def test_modules_fit_on_a_few_screens() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {n} lines"
        for _module, path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == [], "\n".join(long)


def test_segmentation_is_split_by_capability() -> None:
    top = sorted(p.name for p in (PACKAGE / "segmentation").glob("*.py"))
    assert len(top) <= MAX_SEGMENTATION_TOP_MODULES, top
    subpackages = {p.parent.name for p in (PACKAGE / "segmentation").glob("*/__init__.py")}
    assert {"schemes", "runs", "assignments"} <= subpackages
