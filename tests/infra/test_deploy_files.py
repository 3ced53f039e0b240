"""The deployment files hold together: compose.yaml's structure, its settings as Tierline would
read them, .env.example, the Dockerfile and the proxy config (no Docker daemon needed)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tierline.platform.encryption.kms import KEY_SIZE, load_master_key
from tierline.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "migrate")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|AUTH", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def env_example() -> dict[str, str]:
    """The assignments of .env.example (commented-out optional lines excluded)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, enough for this file."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        missing = (op in (":-", ":?") and not value) or (op in ("-", "?") and value is None)
        if missing:
            if op and op.endswith("?"):
                raise LookupError(f"{name}: {arg}")
            return arg or ""
        return value or ""

    return _REFERENCE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(TIERLINE_[A-Z0-9_]+)`", section, re.MULTILINE))


# ---------------------------------------------------------------------------------------------
# compose.yaml structure


def test_the_services_are_there(services: dict[str, dict[str, Any]]) -> None:
    assert {*APP_SERVICES, "control-db", "eu-db", "us-db", "redis", "proxy"} <= set(services)


def test_every_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            # only a one-shot others wait for by its exit status may go without one
            assert service.get("restart") == "no", name
            waiting = [
                other
                for other, spec in services.items()
                if (spec.get("depends_on") or {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert waiting, f"{name} disables its health check but nothing waits for it"
        else:
            assert check.get("test"), f"{name}'s healthcheck has no test"


def test_web_and_worker_start_after_migrations_succeeded(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for server in ("control-db", "eu-db", "us-db", "redis"):
            assert depends[server]["condition"] == "service_healthy", (name, server)
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker"]["command"] == ["worker"]
    assert services["web"]["command"][:1] == ["serve"]
    assert "--no-worker" in services["web"]["command"]


def test_regions_and_control_plane_have_their_own_servers_and_volumes(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    volumes = []
    for name in ("control-db", "eu-db", "us-db"):
        assert services[name]["image"].startswith("postgres:")
        (volume,) = services[name]["volumes"]
        volumes.append(volume.split(":")[0])
    assert len(set(volumes)) == 3
    declared = set(compose["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_docker_waits_for_the_worker_to_hand_its_jobs_back(
    services: dict[str, dict[str, Any]],
) -> None:
    grace = Settings._from_mapping(env_example()).worker_grace_seconds
    stop = services["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", stop)
    assert int(stop[:-1]) >= grace + 10, "SIGKILL would cut the worker's grace period short"


def test_web_and_worker_share_the_data_directory(services: dict[str, dict[str, Any]]) -> None:
    # uploads are written by web and read by the worker
    assert "tierline-data:/data" in services["web"]["volumes"]
    assert "tierline-data:/data" in services["worker"]["volumes"]


def test_redis_requires_a_password(services: dict[str, dict[str, Any]]) -> None:
    command = services["redis"]["command"]
    password = command[command.index("--requirepass") + 1]
    assert _REFERENCE.fullmatch(password)


def test_no_secret_is_written_in_compose(compose: dict[str, Any]) -> None:
    for value in strings(compose):
        for match in re.finditer(r"://[^:/@\s]*:([^@\s]*)@", value):
            assert _REFERENCE.fullmatch(match.group(1)), f"password in URL: {value}"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and _SECRET_NAME.search(str(key)):
                    assert _REFERENCE.fullmatch(value), f"{key} is written in compose.yaml"
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(compose)


# ---------------------------------------------------------------------------------------------
# Settings: documented, listed in .env.example, and accepted by Tierline


def test_every_tierline_setting_used_is_documented_in_readme() -> None:
    documented = readme_settings()
    assert "TIERLINE_TRUSTED_PROXIES" in documented
    for path in ("compose.yaml", ".env.example", "Dockerfile"):
        used = set(re.findall(r"TIERLINE_[A-Z0-9_]+", (ROOT / path).read_text()))
        assert used <= documented, f"{path}: not in README's table: {used - documented}"


def test_env_example_lists_every_variable_compose_needs() -> None:
    example = env_example()
    text = (ROOT / "compose.yaml").read_text()
    for name, op, _arg in _REFERENCE.findall(text):
        assert name in example, f"{name} is used by compose.yaml but not in .env.example"
        if op.endswith("?"):
            assert example[name] == "" or not _SECRET_NAME.search(name), (
                f"{name} is a secret: .env.example must leave it empty, not give a value"
            )


def test_compose_gives_tierline_settings_it_accepts(services: dict[str, dict[str, Any]]) -> None:
    env = env_example()
    for name in ("CONTROL_DB_PASSWORD", "EU_DB_PASSWORD", "US_DB_PASSWORD", "REDIS_PASSWORD"):
        env[name] = "0123abcd" * 8
    env["TIERLINE_OPERATOR_TOKEN"] = "operator-" + "f" * 32
    env["TIERLINE_MASTER_KEY"] = base64.b64encode(bytes(range(32))).decode()
    for name in APP_SERVICES:
        settings_env = {k: v for k, v in env.items() if k.startswith("TIERLINE_")}
        for key, value in services[name]["environment"].items():
            settings_env[key] = interpolate(str(value), env)
        settings = Settings._from_mapping(settings_env)
        assert (
            settings.control_database_url and "@control-db:5432/" in settings.control_database_url
        )
        assert settings.regions is not None and set(settings.regions) == {"eu", "us"}
        assert "@eu-db:5432/tierline_eu" in settings.regions["eu"]
        assert "@us-db:5432/tierline_us" in settings.regions["us"]
        assert settings.redis_url == f"redis://:{env['REDIS_PASSWORD']}@redis:6379/0"
        assert settings.trusted_proxies == (env["PROXY_ADDRESS"],)
        assert str(settings.data_dir) == "/data"
    # a required secret left empty stops compose instead of starting without it
    with pytest.raises(LookupError):
        interpolate(services["web"]["environment"]["TIERLINE_MASTER_KEY"], env_example())


def test_the_trusted_proxy_is_the_proxy(services: dict[str, dict[str, Any]]) -> None:
    address = services["proxy"]["networks"]["edge"]["ipv4_address"]
    trusted = services["web"]["environment"]["TIERLINE_TRUSTED_PROXIES"]
    assert address == trusted
    nginx = (ROOT / "infra" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For" in nginx
    assert "proxy_set_header X-Forwarded-Proto" in nginx
    assert re.search(r"location = /metrics \{\s*return 404;", nginx)


def test_master_key_recipe_in_env_example_makes_a_valid_key(tmp_path: Path) -> None:
    text = (ROOT / ".env.example").read_text()
    (recipe,) = re.findall(r'python3 -c "(.*base64.*)"', text)
    made = subprocess.run(
        [sys.executable, "-c", recipe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(load_master_key(made, tmp_path)) == KEY_SIZE


# ---------------------------------------------------------------------------------------------
# Dockerfile and build context


def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_builds_aside_and_runs_slim_unprivileged() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build_text = "\n".join(line for stage in stages[:-1] for line in stage)
    assert "npm ci" in build_text
    assert "pip wheel" in build_text
    runtime = stages[-1]
    text = "\n".join(runtime)
    preamble = (ROOT / "Dockerfile").read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.1[12]-slim", preamble)
    assert runtime[0].startswith("FROM ${PYTHON_IMAGE}")
    for tool in ("gcc", "build-essential", "npm", "curl"):
        assert tool not in text, f"{tool} in the runtime stage"
    assert re.search(r"pip install --no-index --find-links /wheels", text)
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert "EXPOSE 8000" in runtime
    assert "STOPSIGNAL SIGTERM" in runtime
    (check,) = [line for line in runtime if line.startswith("HEALTHCHECK")]
    assert "python" in check and "/health" in check
    assert 'ENTRYPOINT ["tierline"]' in runtime
    (cmd,) = [line for line in runtime if line.startswith("CMD ")]
    assert cmd == 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]'


def test_build_context_is_an_allowlist() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed >= {"pyproject.toml", "tierline", "migrations", "package.json"}
    assert not any(name.startswith(".env") for name in allowed)
