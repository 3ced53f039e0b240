"""What a domain (or a chassis service such as identity) adds to Tierline, declared in its package.

Each package listed in ``assembly.PACKAGES`` has a ``plugin`` module with one ``PLUGIN``::

    PLUGIN = Plugin(
        commands=(Command("segment", "tierline.segmentation.cli:segment_app"),),
        navigation=(NavItem("Segments", "segments", "segments:read", "…", 40),),
    )

Routes and job handlers need no declaration: ``assembly`` finds every ``controllers`` module
(its ``ROUTES``) and every ``jobs`` module (handlers and periodic tasks register themselves on
import) anywhere in the package, sub-packages included, and every ``templates`` folder.

Targets are ``"module:attribute"`` strings, imported only when used, so ``tierline --help``
does not load the web stack and a page request does not load the CLI.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from tierline.platform.navigation import NavItem


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` target names."""
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class Command:
    """A ``tierline`` command: ``target`` is a ``typer.Typer`` (a group of sub-commands) or a
    function (one command) mounted under ``name``."""

    name: str
    target: str


@dataclass(frozen=True)
class DemoStep:
    """One step of ``tierline demo`` for each demo tenant, in ``order``: ``target`` is
    ``async (runtime, tenant, demo) -> list[str]``, the lines to print (often none)."""

    order: int
    name: str
    target: str


@dataclass(frozen=True)
class Plugin:
    """What one package contributes; every field is optional.

    - ``commands``: ``tierline`` commands and command groups;
    - ``lifespans``: ``(app, runtime) -> async context manager`` entered by the web app once
      its runtime is open (background listeners, caches);
    - ``navigation``: staff menu entries, each with the permission it needs;
    - ``demo_steps``: what ``tierline demo`` runs for each demo tenant;
    - ``extensions``: modules imported when the domains load, for the hooks they register
      with other domains' services (e.g. a check every classification run consults);
    - ``before_serving``: ``async (runtime) -> list[str]`` run by ``tierline serve`` on the
      embedded default before it serves (bringing schemas to head); returns warnings to print;
    - ``data_steps``: ``async (runtime, tenant) -> int`` run by ``tierline migrate`` for every
      tenant once its schema is at head, to bring stored data to what the code expects where
      SQL alone cannot (e.g. sealing values an older release kept in clear, which needs the
      tenant's key). Idempotent and cheap when there is nothing to do; returns rows changed.
    - ``api_tag``: the one OpenAPI tag of every ``/api`` operation the package declares (its
      domain, in the planner's words: ``"master data"``), with ``api_description`` for the
      document's tag list.
    """

    commands: tuple[Command, ...] = ()
    lifespans: tuple[str, ...] = ()
    navigation: tuple[NavItem, ...] = ()
    demo_steps: tuple[DemoStep, ...] = ()
    extensions: tuple[str, ...] = ()
    before_serving: tuple[str, ...] = ()
    data_steps: tuple[str, ...] = ()
    api_tag: str = ""
    api_description: str = ""
