"""Segmentation's face to the other domains: schemes, runs and assignments as plain data, the
changes governance makes to assignments, and the hooks a classification run consults.

Other domains import this module, never segmentation's models or other modules. A domain above
adds behaviour to a run through the two extension points below, registering its hooks from a
module its plugin lists under ``extensions``:

- ``MOVE_GUARDS``: before a run writes anything, each guard may hold some of the moves the run
  would make; they become pending moves with the guard's reason (service levels hold moves
  that would put a customer below its contract, reason ``contract``);
- ``MOVES_APPLIED``: in the run's transaction, after its assignments are written, each hook
  hears of the applied moves (governance writes the customers' notices).
"""

from __future__ import annotations

from tierline.segmentation.assignments.changes import (
    Assignment,
    NewAssignment,
    assignment,
    end_assignment,
    latest_rule_result,
    open_assignment,
    open_assignments,
    start_assignments,
)
from tierline.segmentation.assignments.moves import (
    Move,
    MovePage,
    apply_moves,
    lock_moves,
    move_reasons,
    pending_move,
    pending_moves,
    record_decision,
)
from tierline.segmentation.assignments.queries import (
    CustomerSegment,
    customer_codes_in_segment,
    customer_segment_history,
    customers_in_segment,
    entity_histories,
    first_assignment_at,
    open_customer_assignments,
    open_customer_segments,
)
from tierline.segmentation.runs.hooks import (
    MOVE_GUARDS,
    MOVES_APPLIED,
    AppliedMoves,
    MoveGuard,
    MovesApplied,
    ProposedMoves,
)
from tierline.segmentation.runs.service import RunOutcome, run_scheme
from tierline.segmentation.schemes.document import (
    ParsedScheme,
    Scheme,
    SchemeInvalid,
    Segment,
    load_template,
    parse_scheme,
)
from tierline.segmentation.schemes.store import (
    PublishedScheme,
    SchemeInfo,
    SchemeNotFound,
    SchemeRefused,
    SegmentInfo,
    create_scheme,
    publish,
    published,
    published_segments,
    scheme_entity,
    scheme_exists,
    scheme_infos,
    segment_catalogue,
)

__all__ = [
    "MOVES_APPLIED",
    "MOVE_GUARDS",
    "AppliedMoves",
    "Assignment",
    "CustomerSegment",
    "Move",
    "MoveGuard",
    "MovePage",
    "MovesApplied",
    "NewAssignment",
    "ParsedScheme",
    "ProposedMoves",
    "PublishedScheme",
    "RunOutcome",
    "Scheme",
    "SchemeInfo",
    "SchemeInvalid",
    "SchemeNotFound",
    "SchemeRefused",
    "Segment",
    "SegmentInfo",
    "apply_moves",
    "assignment",
    "create_scheme",
    "customer_codes_in_segment",
    "customer_segment_history",
    "customers_in_segment",
    "end_assignment",
    "entity_histories",
    "first_assignment_at",
    "latest_rule_result",
    "load_template",
    "lock_moves",
    "move_reasons",
    "open_assignment",
    "open_assignments",
    "open_customer_assignments",
    "open_customer_segments",
    "parse_scheme",
    "pending_move",
    "pending_moves",
    "publish",
    "published",
    "published_segments",
    "record_decision",
    "run_scheme",
    "scheme_entity",
    "scheme_exists",
    "scheme_infos",
    "segment_catalogue",
    "start_assignments",
]
