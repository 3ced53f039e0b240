"""Lane cycles: a location must not be replenished, through any chain of lanes, from itself."""

from __future__ import annotations

from collections.abc import Iterable


def find_cycles(lanes: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Cycles among ``(location, source)`` lanes between locations, each as the locations in
    supply order against the flow (``[A, B]`` is A ← B ← A), one per back lane a depth-first
    walk meets (so every group of locations supplying each other is named at least once).
    Networks have tens to hundreds of locations: a walk in Python over the lanes, not SKUs."""
    sources: dict[str, list[str]] = {}
    for location, source in lanes:
        sources.setdefault(location, []).append(source)
    for listed in sources.values():
        listed.sort()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for start in sorted(sources):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(sources.get(start, ()))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(step) == 1:
                cycle = path[path.index(step) :]
                turn = cycle.index(min(cycle))  # one spelling per cycle
                canonical = tuple(cycle[turn:] + cycle[:turn])
                if canonical not in seen:
                    seen.add(canonical)
                    cycles.append(list(canonical))
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sources.get(step, ())))
    return cycles
