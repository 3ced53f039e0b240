"""Job handlers by kind. A handler is a plain async function of one ``JobRun``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef

ProgressSink = Callable[[float, str], Awaitable[None]]


@dataclass
class JobRun:
    """What a handler gets: the shared services, its tenant (None for platform jobs), its
    JSON parameters and a progress reporter whose updates the UI shows while it runs."""

    runtime: Runtime
    job_id: str
    kind: str
    params: dict[str, Any]
    tenant: TenantRef | None
    attempt: int
    _sink: ProgressSink = field(repr=False)

    async def progress(self, fraction: float, message: str = "") -> None:
        await self._sink(max(0.0, min(1.0, fraction)), message)


Handler = Callable[[JobRun], Awaitable[dict[str, Any] | None]]

_HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of jobs of ``kind``."""

    def register(fn: Handler) -> Handler:
        if kind in _HANDLERS and _HANDLERS[kind] is not fn:
            raise ValueError(f"job kind '{kind}' is registered twice")
        _HANDLERS[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


@dataclass(frozen=True)
class Periodic:
    """A domain's recurring task: ``fn(ctx)`` at ``second`` of every minute (or the listed
    minutes). The worker adds every registered one to its cron jobs."""

    fn: Callable[[dict[str, Any]], Awaitable[Any]]
    second: int
    minute: frozenset[int] | None = None


_PERIODIC: dict[str, Periodic] = {}


def periodic(
    second: int, minute: set[int] | None = None
) -> Callable[
    [Callable[[dict[str, Any]], Awaitable[Any]]], Callable[[dict[str, Any]], Awaitable[Any]]
]:
    """Register ``fn`` as a periodic task (see :class:`Periodic`)."""

    def register(
        fn: Callable[[dict[str, Any]], Awaitable[Any]],
    ) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        _PERIODIC[f"{fn.__module__}.{fn.__qualname__}"] = Periodic(
            fn, second, None if minute is None else frozenset(minute)
        )
        return fn

    return register


def periodic_tasks() -> list[Periodic]:
    return [_PERIODIC[name] for name in sorted(_PERIODIC)]
