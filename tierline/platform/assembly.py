"""Composes what the domains declare: routes, templates, jobs, commands, lifespans, menus, demo.

This is the one place where chassis code reaches the domains (a test parses the sources to keep
it so): it imports each listed package's ``plugin`` module (``tierline.platform.plugins``) and
discovers, anywhere inside the package, its ``controllers`` modules (their ``ROUTES``), its
``jobs`` modules (handlers and periodic tasks register on import) and its ``templates`` folders.
A new domain is one line in ``PACKAGES``.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tierline.platform.plugins import Command, DemoStep, Plugin, resolve

ROOT = Path(__file__).resolve().parent.parent  # the ``tierline`` package

# Chassis services first, then the domains from the bottom layer up.
PACKAGES = (
    "platform.identity",
    "platform.encryption",
    "platform.audit",
    "platform.notifications",
    "tenants",
    "policies",
    "masterdata",
    "segmentation",
    "service_levels",
    "governance",
    "inventory",
    "monitoring",
    "analytics",
    "portal",
    "demo",
)

_loading = threading.RLock()
_loaded = False


def _folder(package: str) -> Path:
    return ROOT.joinpath(*package.split("."))


def _import(module: str) -> Any | None:
    """The module, or None when it does not exist (a package without a ``plugin``)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


@functools.cache
def plugins() -> tuple[tuple[str, Plugin], ...]:
    """Every package with its declaration (an empty one when it declares nothing)."""
    found = []
    for package in PACKAGES:
        module = _import(f"tierline.{package}.plugin")
        found.append((package, getattr(module, "PLUGIN", Plugin())))
    return tuple(found)


def _modules_named(package: str, stem: str) -> Iterator[str]:
    """``tierline.<package>[.<sub>...].<stem>`` for every such module in the package tree, and
    every ``<something>_<stem>`` module beside it (``sso_controllers``)."""
    folder = _folder(package)
    hits = [
        *folder.rglob(f"{stem}.py"),
        *folder.rglob(f"*_{stem}.py"),
        *(p.parent for p in folder.rglob(f"{stem}/__init__.py")),
    ]
    for path in sorted(set(hits)):
        relative = path.relative_to(ROOT).with_suffix("")
        if "templates" in relative.parts:
            continue
        yield "tierline." + ".".join(relative.parts)


def load_plugins() -> None:
    """Import every ``jobs`` module and every declared extension (idempotent, thread-safe), so
    job handlers, periodic tasks and cross-domain hooks are registered."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        for package, plugin in plugins():
            for module in _modules_named(package, "jobs"):
                importlib.import_module(module)
            for module in plugin.extensions:
                importlib.import_module(module)
        _loaded = True


def load_models() -> None:
    """Import every ``models`` module, so every table (and encrypted column) is registered."""
    for package, _plugin in plugins():
        for module in _modules_named(package, "models"):
            importlib.import_module(module)


def load_job_handlers() -> None:
    """Register every job handler and periodic task (see ``load_plugins``)."""
    load_plugins()


def domain_route_handlers() -> list[Any]:
    """``ROUTES`` of every ``controllers`` module of every package, sub-packages included."""
    from tierline.platform.routing import merge_surfaces

    handlers: list[Any] = []
    for package, _plugin in plugins():
        for module in _modules_named(package, "controllers"):
            handlers.extend(getattr(importlib.import_module(module), "ROUTES", []))
    return merge_surfaces(handlers)


def api_tag_of(module: str) -> str | None:
    """The ``api_tag`` of the package declaring ``module`` (the innermost one listed)."""
    best: tuple[int, str] | None = None
    for package, plugin in plugins():
        name = f"tierline.{package}"
        inside = module == name or module.startswith(name + ".")
        if plugin.api_tag and inside and (best is None or len(name) > best[0]):
            best = (len(name), plugin.api_tag)
    return best[1] if best else None


def api_tags() -> list[tuple[str, str]]:
    """Every declared ``(api_tag, api_description)``, in package order."""
    return [(p.api_tag, p.api_description) for _package, p in plugins() if p.api_tag]


def template_directories() -> list[Path]:
    """The chassis templates, then every ``templates`` folder of every package."""
    dirs = [ROOT / "platform" / "templates"]
    for package, _plugin in plugins():
        dirs.extend(sorted(p for p in _folder(package).rglob("templates") if p.is_dir()))
    return dirs


def domain_lifespans() -> list[Any]:
    """Each declared lifespan hook: ``(app, runtime) -> async context manager``."""
    return [resolve(target) for _package, plugin in plugins() for target in plugin.lifespans]


def install_navigation() -> None:
    """Put every declared staff menu entry in the menu."""
    from tierline.platform.navigation import register_nav

    for _package, plugin in plugins():
        for item in plugin.navigation:
            register_nav(item)


def commands() -> list[Command]:
    return [command for _package, plugin in plugins() for command in plugin.commands]


def mount_commands(app: Any) -> None:
    """Add every declared command and command group to the ``tierline`` Typer ``app``."""
    import typer

    for command in commands():
        target = resolve(command.target)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=command.name)
        else:
            app.command(command.name)(target)


def before_serving() -> list[Any]:
    """Each declared preparation ``tierline serve`` runs first on the embedded default."""
    return [resolve(target) for _package, plugin in plugins() for target in plugin.before_serving]


def data_steps() -> list[tuple[str, Any]]:
    """Every package's data steps for ``tierline migrate``, as (target, callable)."""
    return [
        (target, resolve(target)) for _package, plugin in plugins() for target in plugin.data_steps
    ]


def demo_steps() -> list[DemoStep]:
    """What ``tierline demo`` runs for each demo tenant, in order."""
    steps = [step for _package, plugin in plugins() for step in plugin.demo_steps]
    return sorted(steps, key=lambda s: (s.order, s.name))
