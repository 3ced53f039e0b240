"""Authorization: the Casbin model, the permission catalogue, default roles and the engine.

Pure Python over pycasbin: no database or HTTP here. The identity layer loads a tenant's
grants and policy version, asks ``PolicyCache.get`` for the engine and calls
``engine.allowed(user_id, scope, permission)``. Cross-tenant isolation never rests on this
package: it is the tenant schema plus the unit of work (DESIGN.md §3-4).
"""

from .decision_rights import DecisionRight, decision_rights
from .default_policy import DEFAULT_POLICY, ROLES, Role
from .enforcer import PolicyCache, PolicyEngine
from .grants import ALL_SCOPES, Grant
from .permissions import PERMISSIONS, PUBLIC, Permission, split_permission

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_POLICY",
    "PERMISSIONS",
    "PUBLIC",
    "ROLES",
    "DecisionRight",
    "Grant",
    "Permission",
    "PolicyCache",
    "PolicyEngine",
    "Role",
    "decision_rights",
    "split_permission",
]
