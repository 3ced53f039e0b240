"""Who is making a request: a staff user, a customer (portal) user or a machine client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tierline.platform.tenancy import TenantRef

PrincipalKind = Literal["staff", "customer", "client"]


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: TenantRef
    subject: str  # a user's UUID, or "client:<uuid>" for a machine client
    kind: PrincipalKind
    display: str  # e-mail or client name: what the audit log names as the actor
    client_scopes: frozenset[str] = field(default_factory=frozenset)  # machine clients only
    customer_code: str | None = None  # customer users only: the account they belong to
    session_id: str | None = None  # browser sessions only
    csrf_token: str | None = None  # browser sessions only
    permissions: frozenset[str] = field(default_factory=frozenset)  # held in at least one scope

    @property
    def is_client(self) -> bool:
        return self.kind == "client"

    @property
    def actor_kind(self) -> str:
        return "client" if self.is_client else "user"
