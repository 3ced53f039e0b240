"""PolicyEngine and PolicyCache: default roles, scope limits, identifier rules, cache versioning,
and a property test against a reference implementation written from the same data."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierline.policies import (
    ALL_SCOPES,
    DEFAULT_POLICY,
    PERMISSIONS,
    PUBLIC,
    ROLES,
    Grant,
    PolicyCache,
    PolicyEngine,
)

USERS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"user-{n}")) for n in range(5)]
CLIENT = f"client:{uuid.uuid5(uuid.NAMESPACE_URL, 'erp')}"
SUBJECTS = [*USERS, CLIENT]
SCOPES = [ALL_SCOPES, "emea", "apac", "bu_chem"]
TENANT_WIDE = {name for name, p in PERMISSIONS.items() if p.tenant_wide}


def engine_with(role: str, scope: str = ALL_SCOPES, user: str = USERS[0]) -> PolicyEngine:
    return PolicyEngine([Grant(user, role, scope)])


def reference_allowed(grants: list[Grant], user: str, scope: str, permission: str) -> bool:
    """The intended semantics, spelled out without Casbin."""
    wanted = ALL_SCOPES if permission in TENANT_WIDE else scope
    return any(
        g.user_id == user
        and g.scope in (ALL_SCOPES, wanted)
        and permission in DEFAULT_POLICY[g.role]
        for g in grants
    )


# --- default roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        ("admin", ["keys:rotate", "users:manage", "overrides:approve_major"], ["portal:self"]),
        (
            "planner",
            ["schemes:write", "segments:run", "margin:read", "overrides:approve"],
            ["overrides:approve_major", "masterdata:write", "users:manage", "audit:read"],
        ),
        (
            "data_steward",
            ["masterdata:write", "imports:run", "steward:resolve"],
            ["margin:read", "schemes:write", "overrides:request", "overrides:approve"],
        ),
        (
            "approver",
            ["overrides:approve", "overrides:approve_major", "margin:read"],
            ["overrides:request", "schemes:write", "masterdata:write"],
        ),
        (
            "account_manager",
            ["overrides:request", "portal:invite", "margin:read"],
            ["overrides:approve", "overrides:approve_major", "entitlements:write"],
        ),
        (
            "analyst",
            ["segments:read", "masterdata:read", "dataquality:read"],
            ["margin:read", "masterdata:write", "overrides:request", "audit:read"],
        ),
        (
            "auditor",
            ["audit:read", "audit:export", "segments:read"],
            ["masterdata:write", "margin:read", "schemes:write", "overrides:approve"],
        ),
        ("customer", ["portal:self"], ["tenant:view", "segments:read", "margin:read"]),
    ],
)
def test_default_role_key_permissions(role: str, allowed: list[str], denied: list[str]) -> None:
    engine = engine_with(role)
    for permission in allowed:
        assert engine.allowed(USERS[0], "emea", permission), permission
    for permission in denied:
        assert not engine.allowed(USERS[0], "emea", permission), permission


def test_customer_holds_portal_self_only() -> None:
    assert engine_with("customer").permissions_of(USERS[0], "emea") == {"portal:self"}


@pytest.mark.parametrize("role", list(ROLES))
def test_star_grant_gives_the_role_everything_everywhere(role: str) -> None:
    engine = engine_with(role, ALL_SCOPES)
    for scope in SCOPES:
        assert engine.permissions_of(USERS[0], scope) == DEFAULT_POLICY[role]


def test_no_grant_no_permission() -> None:
    engine = engine_with("admin", user=USERS[0])
    assert engine.permissions_of(USERS[1], ALL_SCOPES) == frozenset()
    assert engine.roles_of(USERS[1]) == []


# --- scopes --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLES))
def test_scoped_grant_never_leaks_to_another_scope(role: str) -> None:
    engine = engine_with(role, "emea")
    assert engine.permissions_of(USERS[0], "emea") == DEFAULT_POLICY[role] - TENANT_WIDE
    for other in ("apac", "bu_chem", "emea_north", "eme", ALL_SCOPES):
        assert engine.permissions_of(USERS[0], other) == frozenset(), other


def test_planner_in_emea_is_not_a_planner_in_apac() -> None:
    engine = engine_with("planner", "emea")
    assert engine.allowed(USERS[0], "emea", "segments:run")
    assert not engine.allowed(USERS[0], "apac", "segments:run")
    assert not engine.allowed(USERS[0], ALL_SCOPES, "segments:run")


def test_grants_in_two_scopes_combine_per_scope() -> None:
    engine = PolicyEngine(
        [Grant(USERS[0], "analyst", ALL_SCOPES), Grant(USERS[0], "planner", "emea")]
    )
    assert engine.allowed(USERS[0], "emea", "margin:read")
    assert not engine.allowed(USERS[0], "apac", "margin:read")
    assert engine.allowed(USERS[0], "apac", "segments:read")
    assert engine.scopes_for(USERS[0], "margin:read") == {"emea"}
    assert engine.scopes_for(USERS[0], "segments:read") == {ALL_SCOPES}
    assert engine.scopes_for(USERS[0], "audit:read") == frozenset()


def test_tenant_wide_permissions_need_a_star_grant() -> None:
    regional = engine_with("admin", "emea")
    assert regional.allowed(USERS[0], "emea", "roles:manage")
    for permission in sorted(TENANT_WIDE):
        assert not regional.allowed(USERS[0], "emea", permission), permission
    central = engine_with("admin", ALL_SCOPES)
    assert all(central.allowed(USERS[0], "emea", p) for p in TENANT_WIDE)


def test_machine_client_grants_work_like_user_grants() -> None:
    engine = PolicyEngine([Grant(CLIENT, "data_steward", "bu_chem")])
    assert engine.allowed(CLIENT, "bu_chem", "imports:run")
    assert not engine.allowed(CLIENT, "emea", "imports:run")


# --- validation ----------------------------------------------------------------------------


def test_unknown_role_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match=r"unknown role 'superuser'.*known roles: .*planner"):
        PolicyEngine([Grant(USERS[0], "planner", "emea"), Grant(USERS[1], "superuser", "emea")])


BAD_SCOPES = ["", "EMEA", "emea,apac", "emea::x", "em-ea", "emea\n", " *", "**", "é", "a" * 41]
BAD_USERS = [
    "",
    "admin",
    "A8098C1A-F86E-11DA-BD1A-00112444BE1E",
    USERS[0].replace("-", ""),
    USERS[0] + "\n",
    f"{USERS[0]},admin",
    "client:",
    "client:admin",
    f"user:{USERS[0]}",
    f"CLIENT:{USERS[0]}",
]


@pytest.mark.parametrize("scope", BAD_SCOPES)
def test_bad_scope_is_rejected(scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        Grant(USERS[0], "planner", scope)
    with pytest.raises(ValueError, match="scope"):
        engine_with("planner").allowed(USERS[0], scope, "segments:read")


def test_longest_scope_is_accepted() -> None:
    engine = engine_with("planner", "a" * 40)
    assert engine.allowed(USERS[0], "a" * 40, "segments:read")


@pytest.mark.parametrize("user", BAD_USERS)
def test_bad_user_id_is_rejected(user: str) -> None:
    with pytest.raises(ValueError, match="user id"):
        Grant(user, "planner", "emea")
    with pytest.raises(ValueError, match="user id"):
        engine_with("planner").allowed(user, "emea", "segments:read")


def test_unknown_permission_and_public_are_not_decided() -> None:
    engine = engine_with("admin")
    with pytest.raises(ValueError, match="unknown permission 'margin:write'"):
        engine.allowed(USERS[0], "emea", "margin:write")
    with pytest.raises(ValueError, match="PUBLIC is not a permission"):
        engine.allowed(USERS[0], "emea", PUBLIC)


def test_role_policy_naming_an_unknown_permission_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        PolicyEngine([], role_policy={"planner": {"segments:fly"}})


def test_repeated_grants_collapse_and_keep_order() -> None:
    grants = [Grant(USERS[0], "planner", "emea"), Grant(USERS[0], "auditor", ALL_SCOPES)]
    engine = PolicyEngine([*grants, grants[0]])
    assert engine.roles_of(USERS[0]) == grants
    assert engine.grants == tuple(grants)


# --- memo and threads ----------------------------------------------------------------------


def test_decisions_are_memoized() -> None:
    engine = engine_with("planner", "emea")
    for _ in range(3):
        engine.allowed(USERS[0], "emea", "segments:run")
    info = engine.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_scopes_without_a_grant_share_one_casbin_question() -> None:
    engine = PolicyEngine(
        [Grant(USERS[0], "planner", ALL_SCOPES), Grant(USERS[0], "auditor", "emea")]
    )
    for scope in ("apac", "amer", "latam", "bu_chem"):
        assert engine.allowed(USERS[0], scope, "segments:run")
        assert not engine.allowed(USERS[0], scope, "audit:read")
    assert engine.allowed(USERS[0], "emea", "segments:run")
    assert engine.casbin_calls == 3  # segments:run and audit:read elsewhere, segments:run in emea
    assert engine.cache_info().misses == 9


def test_concurrent_decisions_match_the_reference() -> None:
    grants = [
        Grant(u, role, scope) for u, role, scope in zip(USERS, ROLES, SCOPES * 2, strict=False)
    ]
    engine = PolicyEngine(grants, memo_size=0)  # every call reaches Casbin, under its lock
    queries = [(u, s, p) for u in SUBJECTS for s in SCOPES for p in PERMISSIONS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: engine.allowed(*q), queries * 2))
    assert results == [reference_allowed(grants, *q) for q in queries * 2]


# --- property: the engine equals the reference ----------------------------------------------

grants_strategy = st.lists(
    st.builds(
        Grant,
        user_id=st.sampled_from(SUBJECTS),
        role=st.sampled_from(list(ROLES)),
        scope=st.sampled_from(SCOPES),
    ),
    max_size=12,
)
queries_strategy = st.lists(
    st.tuples(
        st.sampled_from(SUBJECTS),
        st.sampled_from([*SCOPES, "latam"]),  # "latam" is never granted
        st.sampled_from(list(PERMISSIONS)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(grants=grants_strategy, queries=queries_strategy)
def test_allowed_equals_reference(grants: list[Grant], queries: list[tuple[str, str, str]]) -> None:
    engine = PolicyEngine(grants)
    for user, scope, permission in queries:
        assert engine.allowed(user, scope, permission) == reference_allowed(
            grants, user, scope, permission
        ), (user, scope, permission)
    user, scope, _ = queries[0]
    assert engine.permissions_of(user, scope) == {
        p for p in PERMISSIONS if reference_allowed(grants, user, scope, p)
    }


# --- cache ---------------------------------------------------------------------------------


class CountingLoader:
    def __init__(self, grants: list[Grant]) -> None:
        self.grants = grants
        self.calls = 0

    def __call__(self) -> list[Grant]:
        self.calls += 1
        return list(self.grants)


def test_cache_reuses_the_engine_while_the_version_holds() -> None:
    cache = PolicyCache()
    loader = CountingLoader([Grant(USERS[0], "planner", "emea")])
    first = cache.get("t_acme", 7, loader)
    assert cache.get("t_acme", 7, loader) is first
    assert loader.calls == 1
    assert first.version == 7


def test_cache_rebuilds_when_the_version_moves() -> None:
    cache = PolicyCache()
    loader = CountingLoader([Grant(USERS[0], "planner", "emea")])
    before = cache.get("t_acme", 1, loader)
    assert not before.allowed(USERS[0], "apac", "segments:run")

    loader.grants.append(Grant(USERS[0], "planner", "apac"))  # a grant change bumps the version
    after = cache.get("t_acme", 2, loader)
    assert loader.calls == 2
    assert after is not before and after.version == 2
    assert after.allowed(USERS[0], "apac", "segments:run")
    assert cache.get("t_acme", 2, loader) is after
    assert loader.calls == 2


def test_cache_keeps_tenants_apart() -> None:
    cache = PolicyCache()
    acme = cache.get("t_acme", 1, CountingLoader([Grant(USERS[0], "admin", ALL_SCOPES)]))
    globex = cache.get("t_globex", 1, CountingLoader([]))
    assert acme.allowed(USERS[0], "emea", "users:manage")
    assert not globex.allowed(USERS[0], "emea", "users:manage")


def test_cache_evicts_least_recently_used_and_invalidates() -> None:
    cache = PolicyCache(max_tenants=2)
    loaders = {t: CountingLoader([]) for t in ("a", "b", "c")}
    cache.get("a", 1, loaders["a"])
    cache.get("b", 1, loaders["b"])
    cache.get("a", 1, loaders["a"])  # "a" is now the most recent
    cache.get("c", 1, loaders["c"])  # evicts "b"
    assert len(cache) == 2
    cache.get("a", 1, loaders["a"])
    cache.get("b", 1, loaders["b"])
    assert (loaders["a"].calls, loaders["b"].calls) == (1, 2)
    cache.invalidate("a")
    cache.get("a", 1, loaders["a"])
    assert loaders["a"].calls == 2


def test_cache_rejects_a_bad_loader_without_storing_anything() -> None:
    cache = PolicyCache()
    good = cache.get("t_acme", 1, CountingLoader([]))
    with pytest.raises(ValueError, match="unknown role"):
        cache.get("t_acme", 2, CountingLoader([Grant(USERS[0], "root", ALL_SCOPES)]))
    assert cache.get("t_acme", 1, CountingLoader([])) is good


async def test_cache_with_an_async_loader() -> None:
    cache = PolicyCache()
    calls = 0

    async def load() -> list[Grant]:
        nonlocal calls
        calls += 1
        return [Grant(USERS[0], "auditor", ALL_SCOPES)]

    engine = await cache.aget("t_acme", 3, load)
    assert await cache.aget("t_acme", 3, load) is engine
    assert calls == 1
    assert engine.allowed(USERS[0], "emea", "audit:export")


def test_users_with_the_same_grants_share_decisions_but_not_other_users_rights() -> None:
    a, b, c = USERS[:3]
    engine = PolicyEngine(
        [Grant(a, "planner", "emea"), Grant(b, "planner", "emea"), Grant(c, "planner", "apac")]
    )
    for permission in PERMISSIONS:
        for scope in SCOPES:
            assert engine.allowed(a, scope, permission) == engine.allowed(b, scope, permission)
    assert engine.allowed(b, "emea", "segments:run")
    assert not engine.allowed(b, "apac", "segments:run")
    assert engine.allowed(c, "apac", "segments:run")
    assert not engine.allowed(c, "emea", "segments:run")
