"""Authorization decisions for one tenant: role grants evaluated by Casbin (``model.conf``).

A ``PolicyEngine`` is built once from the role policy (``DEFAULT_POLICY``) and the tenant's
grants, and never changes afterwards. A ``PolicyCache`` keeps one engine per tenant together
with the policy version it was built from; the version is a counter on the tenant's row, bumped
in the same transaction as any grant change and read on every request, so a change takes
effect in every process on its next request, with no watcher to lose messages.

Speed: pycasbin re-parses the matcher and walks it once per candidate policy row on every
``enforce`` (about 0.2-0.5 ms here). The engine indexes policy rows by (object, action) and
memoizes twice: each request (user, scope, permission) as asked, in a bounded LRU, and below
it each question actually put to Casbin, where every scope the user holds no grant in is asked
as one and the same scope (they all decide alike), and every user holding the same set of
(role, scope) grants is asked as one and the same user (the first of them), so that memo is
bounded by the distinct grant sets, not the users. A planner holding ``*`` who browses eight
regions costs one Casbin call per permission, not eight, and a tenant's thousand customer users
(all holding ``customer`` in ``*``) cost what one of them costs. Memoizing is sound because an
engine is immutable: a grant change produces a new engine, never an edit.

Thread and async safety: an engine may be shared by threads and coroutines. Memo hits go
through ``functools.lru_cache`` (thread-safe). Casbin's ``enforce`` mutates internal state
(the policy index filter, lazily built per-scope role managers), so misses run under a lock;
nothing awaits while holding it. ``PolicyCache`` guards its map with a lock and builds engines
outside it, so two requests that miss together may both build; the last one stored wins,
which is harmless because both built the same version.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from importlib import resources
from typing import Any, Final

import casbin
from casbin.model import FastModel
from casbin.persist.adapter import Adapter

from .default_policy import DEFAULT_POLICY
from .grants import ALL_SCOPES, Grant, check_role_name, check_scope, check_subject
from .permissions import PERMISSIONS, lookup

__all__ = ["DEFAULT_MEMO_SIZE", "Grant", "PolicyCache", "PolicyEngine"]

DEFAULT_MEMO_SIZE: Final = 32_768
"""Requests remembered per engine as asked (about 10 MB when full); least recently used go
first. The memo of Casbin questions below it is bounded by the grants instead."""

_INDEX_FIELDS: Final = [2, 3]  # p.obj, p.act: each decision only evaluates that permission's rows

# For one user, every scope they hold no grant in decides alike: the matcher only compares
# scopes for equality, _policy_rows writes every row in "*", so only their "*" grants apply. Casbin
# is asked all of those as this one scope, which also stops it keeping a role graph for every
# scope string it is ever shown. It fails check_scope, so no grant can ever be made in it.
_UNGRANTED_SCOPE: Final = "-"

GrantLoader = Callable[[], Iterable[Grant]]
AsyncGrantLoader = Callable[[], Awaitable[Iterable[Grant]]]


@functools.cache
def _model_text() -> str:
    return resources.files("tierline.policies").joinpath("model.conf").read_text("utf-8")


class _MemoryAdapter(Adapter):  # type: ignore[misc]  # casbin ships no type stubs
    """Hands Casbin rows we already hold in memory; read-only, nothing is ever saved."""

    def __init__(self, policies: list[list[str]], groupings: list[list[str]]) -> None:
        self._policies = policies
        self._groupings = groupings

    def load_policy(self, model: Any) -> None:
        # Appending directly (as casbin's own load_policy_line does) instead of
        # model.add_policies, which checks duplicates row by row: quadratic for many grants.
        for row in self._policies:
            model.model["p"]["p"].policy.append(row)
        for row in self._groupings:
            model.model["g"]["g"].policy.append(row)


def _policy_rows(role_policy: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """One ``p`` row per (role, permission); the role applies in whatever scope it is held."""
    rows: list[list[str]] = []
    for role, permissions in role_policy.items():
        check_role_name(role)
        for name in sorted(permissions):
            entry = lookup(name)
            rows.append([role, ALL_SCOPES, entry.object, entry.action])
    return rows


def _build_enforcer(policies: list[list[str]], grants: Iterable[Grant]) -> Any:
    model = FastModel(_INDEX_FIELDS)
    model.load_model_from_text(_model_text())
    enforcer = casbin.FastEnforcer(model, None, cache_key_order=_INDEX_FIELDS)
    # Casbin's domain role manager installs an equality "pattern" matcher by default, which
    # makes building a scope's role graph quadratic in its grants and every lookup of an unseen
    # name linear. Our subjects, roles and scopes are compared for equality only, so drop it.
    enforcer.get_role_manager().add_matching_func(None)
    groupings = [[g.user_id, g.role, g.scope] for g in grants]
    enforcer.set_adapter(_MemoryAdapter(policies, groupings))
    enforcer.load_policy()
    return enforcer


def _check_roles(grants: Iterable[Grant], known: AbstractSet[str]) -> None:
    for grant in grants:
        if grant.role not in known:
            raise ValueError(
                f"unknown role {grant.role!r} in grant to {grant.user_id} in scope "
                f"{grant.scope!r}; known roles: {', '.join(sorted(known))}"
            )


class PolicyEngine:
    """Immutable authorization decisions for one tenant at one policy version."""

    def __init__(
        self,
        grants: Iterable[Grant],
        *,
        version: int = 0,
        role_policy: Mapping[str, AbstractSet[str]] = DEFAULT_POLICY,
        memo_size: int = DEFAULT_MEMO_SIZE,
    ) -> None:
        self.version: Final = version
        self._grants = tuple(dict.fromkeys(grants))  # drop repeats, keep order
        _check_roles(self._grants, role_policy.keys())
        self._by_user: dict[str, tuple[Grant, ...]] = {}
        for grant in self._grants:
            self._by_user[grant.user_id] = (*self._by_user.get(grant.user_id, ()), grant)
        self._scopes_of = {u: frozenset(g.scope for g in gs) for u, gs in self._by_user.items()}
        # Users holding the same (role, scope) set decide alike (their g rows differ only in the
        # subject), so Casbin is asked about one of them: the first with that set.
        first: dict[frozenset[tuple[str, str]], str] = {}
        self._representative = {
            u: first.setdefault(frozenset((g.role, g.scope) for g in gs), u)
            for u, gs in self._by_user.items()
        }
        self._enforcer = _build_enforcer(_policy_rows(role_policy), self._grants)
        self._lock = threading.Lock()
        requests = functools.lru_cache(maxsize=memo_size)
        self._decide: functools._lru_cache_wrapper[bool] = requests(self._decide_request)
        # Unbounded on purpose: its keys are bounded by the grants themselves (per distinct grant
        # set, the scopes it names plus one, times the catalogue); memo_size=0 turns it off.
        questions = functools.lru_cache(maxsize=None if memo_size else 0)
        self._ask: functools._lru_cache_wrapper[bool] = questions(self._ask_casbin)

    @property
    def grants(self) -> tuple[Grant, ...]:
        return self._grants

    def allowed(self, user_id: str, scope: str, permission: str) -> bool:
        """May ``user_id`` use ``permission`` in ``scope``? ValueError on a malformed user id or
        scope, or a permission missing from the catalogue."""
        return self._decide(user_id, scope, permission)

    def permissions_of(self, user_id: str, scope: str) -> frozenset[str]:
        """Every catalogue permission ``user_id`` holds in ``scope``."""
        return frozenset(p for p in PERMISSIONS if self._decide(user_id, scope, p))

    def roles_of(self, user_id: str) -> list[Grant]:
        """The grants held by ``user_id``, in the order they were given."""
        return list(self._by_user.get(check_subject(user_id), ()))

    def scopes_for(self, user_id: str, permission: str) -> frozenset[str]:
        """The scopes where ``user_id`` holds ``permission``: ``{"*"}`` when it holds it
        everywhere, else the specific scopes (empty if none). Lets a list page filter its rows
        to what a regional user may see."""
        candidates = {ALL_SCOPES, *(g.scope for g in self.roles_of(user_id))}
        scopes = frozenset(s for s in candidates if self._decide(user_id, s, permission))
        return frozenset({ALL_SCOPES}) if ALL_SCOPES in scopes else scopes

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses and size of the request memo, for metrics and the benchmark."""
        return self._decide.cache_info()

    @property
    def casbin_calls(self) -> int:
        """How many questions have reached Casbin (the lower memo's misses)."""
        return self._ask.cache_info().misses

    def _decide_request(self, user_id: str, scope: str, permission: str) -> bool:
        check_subject(user_id)
        check_scope(scope)
        entry = lookup(permission)
        held = self._scopes_of.get(user_id)
        if held is None:
            # Nothing granted: deny without asking Casbin, whose role manager would otherwise
            # register every unknown id it is asked about.
            return False
        decided_in = ALL_SCOPES if entry.tenant_wide else scope
        return self._ask(
            self._representative[user_id],
            decided_in if decided_in in held else _UNGRANTED_SCOPE,
            permission,
        )

    def _ask_casbin(self, user_id: str, scope: str, permission: str) -> bool:
        entry = PERMISSIONS[permission]
        with self._lock:
            return bool(self._enforcer.enforce(user_id, scope, entry.object, entry.action))


class PolicyCache:
    """One engine per tenant, rebuilt when the tenant's policy version moves.

    ``get`` is called per request with the version read from the tenant's row; the loader (the
    tenant's grants, read in the same snapshot as that version) runs only when the stored
    engine was built from a different version. At most ``max_tenants`` engines are kept, least
    recently used evicted first.
    """

    def __init__(self, *, max_tenants: int = 1024, memo_size: int = DEFAULT_MEMO_SIZE) -> None:
        if max_tenants < 1:
            raise ValueError("max_tenants must be at least 1")
        self._max_tenants = max_tenants
        self._memo_size = memo_size
        self._engines: OrderedDict[str, PolicyEngine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant_id: str, version: int, loader: GrantLoader) -> PolicyEngine:
        """The tenant's engine at ``version``, built from ``loader()`` if not already held."""
        engine = self._current(tenant_id, version)
        if engine is None:
            engine = self._store(tenant_id, self._build(loader(), version))
        return engine

    async def aget(self, tenant_id: str, version: int, loader: AsyncGrantLoader) -> PolicyEngine:
        """``get`` for an async loader (grants read from the tenant's database)."""
        engine = self._current(tenant_id, version)
        if engine is None:
            engine = self._store(tenant_id, self._build(await loader(), version))
        return engine

    def invalidate(self, tenant_id: str) -> None:
        """Forget a tenant's engine (e.g. the tenant was deleted)."""
        with self._lock:
            self._engines.pop(tenant_id, None)

    def __len__(self) -> int:
        return len(self._engines)

    def _build(self, grants: Iterable[Grant], version: int) -> PolicyEngine:
        return PolicyEngine(grants, version=version, memo_size=self._memo_size)

    def _current(self, tenant_id: str, version: int) -> PolicyEngine | None:
        with self._lock:
            engine = self._engines.get(tenant_id)
            if engine is None or engine.version != version:
                return None
            self._engines.move_to_end(tenant_id)
            return engine

    def _store(self, tenant_id: str, engine: PolicyEngine) -> PolicyEngine:
        with self._lock:
            self._engines[tenant_id] = engine
            self._engines.move_to_end(tenant_id)
            while len(self._engines) > self._max_tenants:
                self._engines.popitem(last=False)
        return engine
