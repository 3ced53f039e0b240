"""What a classification run lets the domains above take part in: the extension points
(re-exported by ``segmentation.service``, where upper domains register their hooks)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.platform.extensions import ExtensionPoint
from tierline.segmentation.schemes.document import Scheme


@dataclass(frozen=True)
class ProposedMoves:
    """The moves a run is about to make, before it writes anything. ``moves`` has
    ``entity_key, previous_segment, segment`` (where the entity would go) and ``outcome``:
    ``applied``, or ``pending`` when the move waits for a decision already."""

    scheme_code: str
    entity: str  # what the scheme classifies: customer, product or customer_product
    as_of: date
    moves: pl.DataFrame


MoveGuard = Callable[[AsyncSession, ProposedMoves], Awaitable[Mapping[str, str]]]
"""``(session, proposed) -> {entity_key: reason}`` for the moves that must wait for a decision."""

MOVE_GUARDS: ExtensionPoint[MoveGuard] = ExtensionPoint("segmentation.move_guards")


@dataclass(frozen=True)
class AppliedMoves:
    """The moves a run applied, told in its transaction. ``moves`` has ``entity_key,
    customer_code, sku, previous_segment, segment``; ``effective`` is the run's as-of day."""

    scheme: Scheme
    moves: pl.DataFrame
    effective: date
    run_id: uuid.UUID


MovesApplied = Callable[[AsyncSession, AppliedMoves], Awaitable[None]]

MOVES_APPLIED: ExtensionPoint[MovesApplied] = ExtensionPoint("segmentation.moves_applied")
