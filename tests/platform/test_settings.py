"""Settings parse strictly, and the README documents every ``TIERLINE_*`` variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tierline.platform.settings import Settings, SettingsError, parse_regions

ROOT = Path(__file__).resolve().parents[2]


def test_regions_parse() -> None:
    assert parse_regions("eu=postgresql+asyncpg://a/b; us=postgresql+asyncpg://c/d") == {
        "eu": "postgresql+asyncpg://a/b",
        "us": "postgresql+asyncpg://c/d",
    }


@pytest.mark.parametrize(
    "raw,fragment",
    [("eu", "name=url"), ("EU=x", "lowercase"), ("eu=a;eu=b", "twice"), (";", "no region")],
)
def test_bad_regions_are_explained(raw: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        parse_regions(raw)


def test_defaults_are_the_embedded_local_setup(tmp_path: Path) -> None:
    s = Settings.from_env({}, env_file=tmp_path / "none")
    assert s.embedded_databases and s.embedded_redis
    assert s.data_dir == Path(".tierline").resolve()
    assert s.embedded_regions == ("eu", "us")


def test_dotenv_is_read_and_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TIERLINE_LOG_LEVEL=debug\nTIERLINE_BASE_URL=https://a.example\n")
    s = Settings.from_env({"TIERLINE_LOG_LEVEL": "error"}, env_file=env_file)
    assert s.log_level == "ERROR" and s.base_url == "https://a.example" and s.secure_cookies


@pytest.mark.parametrize(
    "env,fragment",
    [
        ({"TIERLINE_REGIONS": "eu=x"}, "both"),
        ({"TIERLINE_LOG_LEVEL": "loud"}, "TIERLINE_LOG_LEVEL"),
        ({"TIERLINE_DB_POOL_SIZE": "many"}, "whole number"),
        ({"TIERLINE_BASE_URL": "ftp://x"}, "http"),
    ],
)
def test_bad_settings_are_explained(env: dict[str, str], fragment: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env, env_file=tmp_path / "none")


def test_readme_documents_every_setting() -> None:
    used = set()
    for path in (ROOT / "tierline").rglob("*.py"):
        used |= set(re.findall(r"TIERLINE_[A-Z_]+[A-Z]", path.read_text()))
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(v for v in used if f"`{v}`" not in readme)
    assert not undocumented, f"README settings table lacks: {undocumented}"
