"""The permission catalogue, the default role table (and its documentation) and the decision
rights rows."""

from __future__ import annotations

from importlib import resources

import pytest

from tierline.policies import (
    DEFAULT_POLICY,
    PERMISSIONS,
    PUBLIC,
    ROLES,
    DecisionRight,
    decision_rights,
    default_policy,
    split_permission,
)
from tierline.policies.permissions import STAFF_PERMISSIONS

ABBREVIATIONS = {
    "ADM": "admin",
    "PLN": "planner",
    "DST": "data_steward",
    "APR": "approver",
    "ACM": "account_manager",
    "ANA": "analyst",
    "AUD": "auditor",
    "CUS": "customer",
}


def documented_table() -> dict[str, set[str]]:
    """Permission -> roles marked ``x`` in default_policy's docstring table."""
    doc = default_policy.__doc__ or ""
    lines = [line.split() for line in doc.splitlines()]
    header = next(cols for cols in lines if cols[:1] == ["permission"])
    roles = [ABBREVIATIONS[code] for code in header[1:]]
    table: dict[str, set[str]] = {}
    for cols in lines:
        if len(cols) == len(header) and cols[0] in PERMISSIONS:
            assert set(cols[1:]) <= {"x", "."}, cols
            table[cols[0]] = {
                role for role, mark in zip(roles, cols[1:], strict=True) if mark == "x"
            }
    return table


def test_documented_table_matches_the_policy() -> None:
    expected = {p: {r for r, perms in DEFAULT_POLICY.items() if p in perms} for p in PERMISSIONS}
    assert documented_table() == expected
    assert set(ABBREVIATIONS.values()) == set(ROLES)


def test_catalogue_entries_are_well_formed() -> None:
    assert len(PERMISSIONS) == 33
    for name, entry in PERMISSIONS.items():
        assert entry.name == name
        assert (entry.object, entry.action) == split_permission(name)
        assert entry.description and "\n" not in entry.description


@pytest.mark.parametrize("bad", ["margin", "margin:", ":read", "Margin:read", "a:b:c", "m-x:read"])
def test_split_permission_rejects_malformed_names(bad: str) -> None:
    with pytest.raises(ValueError, match="object:action"):
        split_permission(bad)


def test_public_marker_matches_the_platform_and_is_not_a_permission() -> None:
    from tierline.platform.access import PUBLIC as PLATFORM_PUBLIC

    assert PUBLIC == PLATFORM_PUBLIC
    assert PUBLIC not in PERMISSIONS


def test_roles_are_described_and_admin_is_all_staff_permissions() -> None:
    assert list(ROLES) == list(DEFAULT_POLICY)
    for role in ROLES.values():
        assert role.display_name and role.description
        assert role.permissions == DEFAULT_POLICY[role.name]
    assert DEFAULT_POLICY["admin"] == STAFF_PERMISSIONS == set(PERMISSIONS) - {"portal:self"}
    assert DEFAULT_POLICY["customer"] == {"portal:self"}
    assert all("portal:self" not in DEFAULT_POLICY[r] for r in ROLES if r != "customer")


def test_decision_rights_rows_follow_the_policy() -> None:
    rows = decision_rights()
    assert {(r.role, r.permission) for r in rows} == {
        (role, p) for role, perms in DEFAULT_POLICY.items() for p in perms
    }
    assert rows[0] == DecisionRight("admin", "tenant:view", PERMISSIONS["tenant:view"].description)
    assert [r.role for r in rows if r.permission == "overrides:approve_major"] == [
        "admin",
        "approver",
    ]


def test_decision_rights_reject_an_unknown_permission() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        decision_rights({"planner": {"segments:fly"}})


def test_model_conf_ships_as_package_data() -> None:
    text = resources.files("tierline.policies").joinpath("model.conf").read_text("utf-8")
    assert "r = sub, dom, obj, act" in text
