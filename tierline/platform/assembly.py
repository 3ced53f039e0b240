"""Where the domains plug into the chassis: their routes, templates, job handlers and
lifespan hooks.

Platform code imports domains only through this list, so a new domain is one line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

DOMAINS = (
    "platform.identity",
    "platform.encryption",
    "platform.audit",
    "platform.notifications",
    "tenants",
    "policies",
    "masterdata",
    "segmentation",
    "inventory",
    "monitoring",
    "portal",
)


def _import(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def load_job_handlers() -> None:
    """Import every domain's ``jobs`` module so its handlers register."""
    for domain in DOMAINS:
        _import(f"tierline.{domain}.jobs")


def domain_lifespans() -> list[Any]:
    """``lifespan`` of every domain's ``lifespan`` module: ``(app, runtime)`` to an async
    context manager the web app enters once its runtime is open (background listeners)."""
    hooks: list[Any] = []
    for domain in DOMAINS:
        module = _import(f"tierline.{domain}.lifespan")
        if module is not None:
            hooks.append(module.lifespan)
    return hooks


def domain_route_handlers() -> list[Any]:
    """``ROUTES`` of every ``controllers`` or ``*_controllers`` module of every domain."""
    root = Path(__file__).resolve().parent.parent
    handlers: list[Any] = []
    for domain in DOMAINS:
        folder = root.joinpath(*domain.split("."))
        names = sorted(p.stem for p in folder.glob("*controllers.py"))
        for name in names:
            module = _import(f"tierline.{domain}.{name}")
            if module is not None:
                handlers.extend(getattr(module, "ROUTES", []))
    return handlers


def template_directories() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    dirs = [root / "platform" / "templates"]
    for domain in DOMAINS:
        candidate = root.joinpath(*domain.split("."), "templates")
        if candidate.is_dir():
            dirs.append(candidate)
    return dirs
