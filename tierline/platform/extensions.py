"""Extension points: hooks one domain offers and domains above it fill in.

A lower domain cannot import the ones above it (dependencies point one way), yet some of its
work must consult them: a classification run holds moves that would break a customer's contract
(service levels) and tells customers of their new segment (governance). The lower domain
declares an ``ExtensionPoint`` in its ``service`` module; the upper one registers a hook from a
module its plugin lists under ``extensions``. Reading the hooks first loads every plugin, so no
entry point (web, worker, CLI, a test) can run with a hook missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class ExtensionPoint(Generic[T]):
    """An ordered set of hooks of one kind."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hooks: list[T] = []

    def register(self, hook: T) -> T:
        """Add ``hook`` (once; registering it again changes nothing). Usable as a decorator."""
        if hook not in self._hooks:
            self._hooks.append(hook)
        return hook

    def __iter__(self) -> Iterator[T]:
        from tierline.platform import assembly

        assembly.load_plugins()
        return iter(tuple(self._hooks))

    def __repr__(self) -> str:
        return f"ExtensionPoint({self.name!r}, {len(self._hooks)} hooks)"
