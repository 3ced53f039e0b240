"""A supply network of locations (or stages) joined by lanes, checked to be a tree.

A lane ``(source, destination)`` means *source* replenishes *destination*. Multi-echelon
buffers and the guaranteed-service model need a forest: no lane cycle (A sources B sources A),
no two routes between the same two locations, and, for pooling demand upstream, one source per
location. A network that breaks a rule is refused with the lanes at fault named.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tierline.platform.errors import DomainError

Lane = tuple[str, str]


class NetworkRefused(DomainError):
    """The network cannot be used as it is; ``lanes`` names the lanes at fault."""

    status_code = 422
    title = "Network refused"

    def __init__(self, message: str, lanes: Sequence[Lane] = ()) -> None:
        super().__init__(message)
        self.lanes = tuple(lanes)


def _describe(lanes: Iterable[Lane]) -> str:
    return ", ".join(f"{a} → {b}" for a, b in lanes)


@dataclass(frozen=True)
class Network:
    """Validated network: ``nodes`` in the caller's order, ``lanes`` as (source, destination),
    ``order`` the node positions sources first (a topological order)."""

    nodes: tuple[str, ...]
    lanes: tuple[Lane, ...]
    sources: tuple[tuple[int, ...], ...]  # per node: positions of the nodes replenishing it
    destinations: tuple[tuple[int, ...], ...]  # per node: positions of the nodes it replenishes
    order: tuple[int, ...]

    def position(self, node: str) -> int:
        return self.nodes.index(node)

    @classmethod
    def build(
        cls, nodes: Sequence[str], lanes: Sequence[Lane], *, one_source_each: bool = False
    ) -> Network:
        """Check and index the network; ``one_source_each`` also refuses a location with two
        sources (needed to pool demand upstream, not by the guaranteed-service model)."""
        names = tuple(str(n) for n in nodes)
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise NetworkRefused(f"locations listed twice: {', '.join(duplicates)}")
        position = {name: i for i, name in enumerate(names)}
        edges = tuple((str(a), str(b)) for a, b in lanes)
        unknown = [lane for lane in edges if lane[0] not in position or lane[1] not in position]
        if unknown:
            raise NetworkRefused(
                f"lanes to or from unknown locations: {_describe(unknown)}", unknown
            )
        loops = [lane for lane in edges if lane[0] == lane[1]]
        if loops:
            raise NetworkRefused(f"a location cannot replenish itself: {_describe(loops)}", loops)
        repeated = sorted({lane for lane in edges if edges.count(lane) > 1})
        if repeated:
            raise NetworkRefused(f"lanes given twice: {_describe(repeated)}", repeated)
        sources: list[list[int]] = [[] for _ in names]
        destinations: list[list[int]] = [[] for _ in names]
        for a, b in edges:
            sources[position[b]].append(position[a])
            destinations[position[a]].append(position[b])
        order = _topological(names, edges, sources, destinations)
        if one_source_each:
            several = [
                [(names[s], names[i]) for s in srcs]
                for i, srcs in enumerate(sources)
                if len(srcs) > 1
            ]
            if several:
                lanes_at_fault = [lane for group in several for lane in group]
                raise NetworkRefused(
                    "a location may have one source here (demand is pooled up one path): "
                    f"{_describe(lanes_at_fault)}",
                    lanes_at_fault,
                )
        _refuse_second_routes(names, edges)
        return cls(
            names,
            edges,
            tuple(tuple(s) for s in sources),
            tuple(tuple(d) for d in destinations),
            order,
        )


def _topological(
    names: tuple[str, ...],
    edges: tuple[Lane, ...],
    sources: list[list[int]],
    destinations: list[list[int]],
) -> tuple[int, ...]:
    """Kahn's algorithm; on a cycle, name the lanes of one cycle in order."""
    waiting = [len(s) for s in sources]
    ready = deque(i for i, w in enumerate(waiting) if w == 0)
    order: list[int] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for nxt in destinations[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if len(order) == len(names):
        return tuple(order)
    cycle = _one_cycle({i for i, w in enumerate(waiting) if w > 0}, destinations)
    lanes = [(names[a], names[b]) for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True)]
    path = " sources ".join(names[i] for i in [*cycle, cycle[0]])
    raise NetworkRefused(f"lanes form a cycle ({path}): {_describe(lanes)}", lanes)


def _one_cycle(stuck: set[int], destinations: list[list[int]]) -> list[int]:
    """Walk forward inside the nodes Kahn could not order until a node repeats."""
    node = min(stuck)
    seen: dict[int, int] = {}
    walk: list[int] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(d for d in destinations[node] if d in stuck)
    return walk[seen[node] :]


def _refuse_second_routes(names: tuple[str, ...], edges: tuple[Lane, ...]) -> None:
    """Refuse two routes between the same locations (an undirected loop): name its lanes."""
    parent = list(range(len(names)))
    position = {name: i for i, name in enumerate(names)}
    adjacent: dict[int, list[tuple[int, Lane]]] = {i: [] for i in range(len(names))}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for lane in edges:
        a, b = position[lane[0]], position[lane[1]]
        if root(a) == root(b):
            loop = [*_route(adjacent, a, b), lane]
            raise NetworkRefused(
                f"two routes lead between the same locations (the network must be a tree): "
                f"{_describe(loop)}",
                loop,
            )
        parent[root(a)] = root(b)
        adjacent[a].append((b, lane))
        adjacent[b].append((a, lane))


def _route(adjacent: dict[int, list[tuple[int, Lane]]], start: int, goal: int) -> list[Lane]:
    came: dict[int, tuple[int, Lane] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt, lane in adjacent[node]:
            if nxt not in came:
                came[nxt] = (node, lane)
                queue.append(nxt)
    lanes: list[Lane] = []
    node = goal
    while (step := came[node]) is not None:
        node, lane = step
        lanes.append(lane)
    return lanes[::-1]
