"""The largest-remainder share-out in numpy, over lines sorted by pool (customer and month)
then line: one pass of integer arithmetic per cost type instead of grouped windows, exact in
64-bit integers. ``allocation`` uses it when every product ``amount x driver`` fits in 62
bits, and its 128-bit polars path otherwise."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


class PoolOrder:
    """Lines sorted by (pool, line): where each pool starts and which line is where."""

    def __init__(self, pool: Ints, line: Ints) -> None:
        self.order = np.lexsort((line, pool))  # positions of the lines, pool by pool
        self.pool = pool[self.order]
        self.line_rank = np.empty_like(self.order)
        self.line_rank[self.order] = np.arange(self.order.size)  # tie-break: line order
        boundary = np.flatnonzero(np.diff(self.pool)) + 1
        self.starts = np.concatenate(([0], boundary)) if self.pool.size else boundary

    def share_out(
        self, amount_of_pool: Ints, has_amount: npt.NDArray[np.bool_], driver: Ints
    ) -> Ints:
        """Each line's share (in the lines' original order; 0 where its pool has no amount or a
        zero driver total). ``amount_of_pool`` / ``has_amount`` are indexed by pool id."""
        n = self.order.size
        out = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        d = np.clip(driver[self.order], 0, None)
        totals = np.add.reduceat(d, self.starts)
        pool_at_start = self.pool[self.starts]
        group = np.repeat(np.arange(self.starts.size), np.diff(np.append(self.starts, n)))
        amount = np.where(has_amount[pool_at_start], amount_of_pool[pool_at_start], 0)
        live = (totals > 0) & has_amount[pool_at_start]
        total_line = np.where(live, totals, 1)[group]
        product = amount[group] * d
        base = np.where(live[group], product // total_line, 0)
        rest = np.where(live[group], product % total_line, 0)
        left = amount - np.add.reduceat(base, self.starts)
        # Within each pool: the largest remainder first, ties to the earlier line.
        ranked = np.lexsort((self.line_rank[self.order], -rest, group))
        position = np.empty(n, dtype=np.int64)
        position[ranked] = np.arange(n) - self.starts[group[ranked]]
        shares = base + ((position < left[group]) & live[group])
        out[self.order] = shares
        return out
