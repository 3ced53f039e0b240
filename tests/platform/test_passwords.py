"""Passwords hash at production cost by default; the suite's minimal cost stays compatible."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import Parameters, Type, extract_parameters

from tierline.platform.identity.passwords import hash_password, hasher_for, verify_password
from tierline.platform.settings import Settings, SettingsError, get_settings

PASSWORD = "correct horse battery staple"
# Written out, so a change of the library's defaults cannot lower production's cost unseen.
PRODUCTION = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=3,
    memory_cost=65536,
    parallelism=4,
)


def test_default_settings_hash_at_production_cost(tmp_path: Path) -> None:
    settings = Settings.from_env({}, env_file=tmp_path / "no.env")
    assert settings.password_hash_cost == "standard"
    stored = hasher_for(settings.password_hash_cost).hash(PASSWORD)
    assert extract_parameters(stored) == PRODUCTION
    assert hasher_for("standard").verify(stored, PASSWORD)


def test_a_cheap_hash_verifies_at_production_cost_and_is_upgraded_there() -> None:
    cheap = hasher_for("minimal").hash(PASSWORD)
    production = hasher_for("standard")
    assert production.verify(cheap, PASSWORD)
    assert production.check_needs_rehash(cheap)  # sign-in re-hashes it at production cost
    assert hasher_for("minimal").verify(production.hash(PASSWORD), PASSWORD)


def test_the_suite_hashes_at_minimal_cost_and_still_checks() -> None:
    assert get_settings().password_hash_cost == "minimal"
    stored = hash_password(PASSWORD)
    params = extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)
    assert (params.salt_len, params.hash_len) == (PRODUCTION.salt_len, PRODUCTION.hash_len)
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)


def test_an_unknown_cost_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TIERLINE_PASSWORD_HASH_COST"):
        Settings.from_env({"TIERLINE_PASSWORD_HASH_COST": "cheap"}, env_file=tmp_path / "x")
