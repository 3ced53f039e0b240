"""The rules every governance decision passes, an override request or a move a run held: who
may decide it (decision rights in the entity's scope, the governance board for jumps of more
than one tier) and when a contract conflict may be accepted (only by the board, acknowledging
it). Overrides (``overrides``) and pending moves (``moves``) ask the same functions here, and
the approval queue shows the same reasons, so no page or API can decide with fewer checks.

A check answers a :class:`Refusal` (or None); each caller raises it as its own error, so the
API's problem codes stay those of the thing decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from litestar import Request

from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import scopes_with
from tierline.policies import PolicyEngine

REQUEST = "overrides:request"
APPROVE = "overrides:approve"
APPROVE_MAJOR = "overrides:approve_major"


@dataclass(frozen=True)
class ApproverRights:
    """Where the approver may decide: scopes holding ``overrides:approve`` and
    ``overrides:approve_major`` (None = every scope, as ``web.scopes_with`` answers)."""

    approve: frozenset[str] | None
    major: frozenset[str] | None
    # Permissions of other domains' approval sources held tenant-wide (``service``)
    held: frozenset[str] = frozenset()

    @classmethod
    def everywhere(cls) -> ApproverRights:
        return cls(None, None)

    @classmethod
    def of(cls, engine: PolicyEngine, subject: str) -> ApproverRights:
        def scopes(permission: str) -> frozenset[str] | None:
            held = engine.scopes_for(subject, permission)
            return None if "*" in held else held

        return cls(scopes(APPROVE), scopes(APPROVE_MAJOR))

    def may_approve(self, scope: str) -> bool:
        return self.approve is None or scope in self.approve

    def may_approve_major(self, scope: str) -> bool:
        return self.major is None or scope in self.major


def rights_of(request: Request[Any, Any, Any], principal: Principal) -> ApproverRights:
    """Where the caller may decide. A machine client's grant is tenant-wide: it decides
    everywhere if it was given the scope, nowhere otherwise."""
    from tierline.governance.service import APPROVAL_SOURCES

    wanted = {source.permission for source in APPROVAL_SOURCES}
    if principal.is_client:
        held = principal.client_scopes
        return ApproverRights(
            None if APPROVE in held else frozenset(),
            None if APPROVE_MAJOR in held else frozenset(),
            frozenset(wanted & set(held)),
        )
    return ApproverRights(
        scopes_with(request, principal, APPROVE),
        scopes_with(request, principal, APPROVE_MAJOR),
        frozenset(p for p in wanted if scopes_with(request, principal, p) is None),
    )


@dataclass(frozen=True)
class Refusal:
    """Why a decision may not be taken: ``forbidden`` (the decider lacks the right, 403) or
    ``refused`` (nobody may take it as asked, 409)."""

    kind: Literal["forbidden", "refused"]
    message: str

    def __str__(self) -> str:
        return self.message


def rights_refusal(subject: str, scope: str, jump: int, rights: ApproverRights) -> Refusal | None:
    """Whether ``rights`` allow deciding ``subject`` (e.g. ``move #7``) in ``scope``, jumping
    ``jump`` tiers: ``overrides:approve`` there, and ``overrides:approve_major`` beyond one
    tier."""
    if not rights.may_approve(scope):
        return Refusal(
            "forbidden", f"{subject} lies in scope '{scope}', where you hold no {APPROVE}"
        )
    if jump > 1 and not rights.may_approve_major(scope):
        return Refusal(
            "forbidden",
            f"{subject} jumps {jump} tiers: only the governance board ({APPROVE_MAJOR}) "
            "decides that",
        )
    return None


def contract_refusal(
    conflicts: Sequence[str], acknowledged: bool, scope: str, rights: ApproverRights
) -> Refusal | None:
    """Applying a change that breaks a customer's contract: refused unless acknowledged, and
    only the governance board (``overrides:approve_major`` in the scope) may acknowledge."""
    if not conflicts:
        return None
    listed = "; ".join(conflicts)
    if not acknowledged:
        return Refusal(
            "refused",
            f"the move conflicts with the customer's contract: {listed}. Nothing was changed; "
            f"a {APPROVE_MAJOR} holder may approve it acknowledging the conflicts.",
        )
    if not rights.may_approve_major(scope):
        return Refusal(
            "forbidden",
            f"only the governance board ({APPROVE_MAJOR}) may approve despite contract "
            f"conflicts: {listed}",
        )
    return None
