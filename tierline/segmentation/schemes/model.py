"""The scheme document as msgspec Structs: one definition gives decoding, defaults and JSON Schema.

Field constraints that hold for a single value live here (``Meta``); rules across fields
(threshold order, references, reachability) live in ``validation``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tierline.platform.errors import DomainError
from tierline.segmentation.schemes.conditions import Condition, EntityKind

_Share = Annotated[float, msgspec.Meta(gt=0, lt=1)]
_MonthDay = Annotated[str, msgspec.Meta(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
SegmentCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")]


class _Doc(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Shared options: unknown keys are errors, fields are keyword-only."""


class Window(_Doc):
    """Trailing window of order history, ending at the run's as-of date."""

    months: Annotated[int, msgspec.Meta(ge=1, le=60)] = 12


class Variability(_Doc):
    """How the coefficient of variation of demand is measured: the bucket size, and from when.

    ``since: window`` (the default) counts every bucket of the window, empty ones as zero
    demand; ``since: first_order`` starts each entity at its first order (ever, up to the
    as-of date), so a customer x product pair that began trading three months ago is measured
    over those three months instead of nine empty ones and three busy ones.
    """

    bucket: Literal["week", "month"] = "month"
    since: Literal["window", "first_order"] = "window"


class Segment(_Doc):
    """A service segment; rank 1 is the highest priority."""

    code: SegmentCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rank: Annotated[int, msgspec.Meta(ge=1)]
    colour: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None


class AbcThresholds(_Doc):
    """Cumulative-share cut-offs: share <= a is A, <= b is B, else C."""

    a: _Share = msgspec.field(default=0.8, name="A")
    b: _Share = msgspec.field(default=0.95, name="B")


class AbcClassifier(_Doc):
    """Pareto classification on one driver measure."""

    driver: Literal["volume", "revenue", "margin"] = "revenue"
    thresholds: AbcThresholds = msgspec.field(default_factory=AbcThresholds)


class XyzThresholds(_Doc):
    """CV cut-offs: cv <= x is X, <= y is Y, else Z."""

    x: Annotated[float, msgspec.Meta(gt=0)] = msgspec.field(default=0.5, name="X")
    y: Annotated[float, msgspec.Meta(gt=0)] = msgspec.field(default=1.0, name="Y")


class XyzClassifier(_Doc):
    """Demand-variability classification on the CV per bucket."""

    thresholds: XyzThresholds = msgspec.field(default_factory=XyzThresholds)


class Classifiers(_Doc):
    """ABC always runs; XYZ only when declared."""

    abc: AbcClassifier = msgspec.field(default_factory=AbcClassifier)
    xyz: XyzClassifier | None = None


class Rule(_Doc, omit_defaults=True):
    """One decision-tree rule: optional ``when``, then exactly one of segment / then / goto."""

    when: Condition | None = None
    segment: str | None = None
    then: list[Rule] | None = None
    goto: str | None = None


class LifecycleException(_Doc, omit_defaults=True):
    """Entities in a lifecycle bypass the tree: a fixed segment, or a map on one attribute.

    With ``by``/``map`` and no ``otherwise``, unmapped entities fall through to the tree.
    """

    lifecycle: Literal["active", "npi", "promotional", "one_time_project", "phase_out"]
    segment: str | None = None
    by: str | None = None
    mapping: dict[str, str] | None = msgspec.field(default=None, name="map")
    otherwise: str | None = None


Exception_ = LifecycleException


class Stability(_Doc):
    """Hysteresis settings used by runs (the defaults switch it off)."""

    consecutive_runs: Annotated[int, msgspec.Meta(ge=1, le=12)] = 1
    margin_band: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    spike_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0


class Reclassification(_Doc):
    """When a run's moves need approval instead of applying."""

    max_share_moving: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    max_tier_jump: Annotated[int, msgspec.Meta(ge=1)] = 20


class FreezeWindow(_Doc):
    """No scheduled runs from ``start`` to ``end`` (MM-DD, inclusive; may wrap the year end)."""

    start: _MonthDay = msgspec.field(name="from")
    end: _MonthDay = msgspec.field(name="to")
    reason: str | None = None


class Schedule(_Doc):
    """How often runs start by themselves, and when they must not."""

    frequency: Literal["manual", "daily", "weekly", "monthly", "quarterly"] = "manual"
    freeze: list[FreezeWindow] = msgspec.field(default_factory=list)


class DataChecks(_Doc):
    """What a run does when its input looks wrong."""

    empty_history: Literal["refuse", "warn"] = "refuse"
    stale_feeds: Literal["refuse", "warn", "ignore"] = "warn"


class Scheme(_Doc):
    """A segmentation scheme document."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    entity: EntityKind
    segments: Annotated[list[Segment], msgspec.Meta(min_length=1, max_length=20)]
    tree: Annotated[list[Rule], msgspec.Meta(min_length=1)]
    description: str | None = None
    window: Window = msgspec.field(default_factory=Window)
    variability: Variability = msgspec.field(default_factory=Variability)
    classifiers: Classifiers = msgspec.field(default_factory=Classifiers)
    defaults: dict[str, str | bool | float] = msgspec.field(default_factory=dict)
    subtrees: dict[str, list[Rule]] = msgspec.field(default_factory=dict)
    exceptions: list[LifecycleException] = msgspec.field(default_factory=list)
    stability: Stability = msgspec.field(default_factory=Stability)
    reclassification: Reclassification = msgspec.field(default_factory=Reclassification)
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    data_checks: DataChecks = msgspec.field(default_factory=DataChecks)


class SchemeIssue(msgspec.Struct, frozen=True):
    """One problem in a document: where (path, 1-based line when known) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path or '(document)'}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.message}"


class SchemeInvalid(DomainError, ValueError):
    """The document cannot be used; ``errors`` lists every problem found."""

    status_code = 422
    title = "Invalid scheme"

    def __init__(self, errors: list[SchemeIssue]) -> None:
        self.errors = errors
        super().__init__("invalid scheme:\n" + "\n".join(f"  {e}" for e in errors))


class ParsedScheme(msgspec.Struct, frozen=True):
    """A valid scheme plus the warnings worth showing its author."""

    scheme: Scheme
    warnings: list[SchemeIssue]
