"""Settings read once from ``TIERLINE_*`` environment variables (and an optional ``.env``).

Every variable is documented in the README's settings table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values

from tierline.platform.client_address import parse_networks

_REGION_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# ``minimal`` is for test suites only: argon2 at its lowest cost hashes in microseconds.
PASSWORD_HASH_COSTS = ("standard", "minimal")


class SettingsError(ValueError):
    """A ``TIERLINE_*`` variable has a value Tierline cannot use."""


def parse_regions(raw: str) -> dict[str, str]:
    """Parse ``eu=postgresql+asyncpg://...;us=...`` into ``{"eu": url, "us": url}``."""
    regions: dict[str, str] = {}
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, url = part.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not url:
            raise SettingsError(f"TIERLINE_REGIONS: '{part}' is not of the form name=url")
        if not _REGION_NAME.match(name):
            raise SettingsError(
                f"TIERLINE_REGIONS: region name '{name}' must be 2-16 lowercase letters/digits"
            )
        if name in regions:
            raise SettingsError(f"TIERLINE_REGIONS: region '{name}' is listed twice")
        regions[name] = url
    if not regions:
        raise SettingsError("TIERLINE_REGIONS is set but names no region")
    return regions


def _int(env: dict[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{key} must be a whole number, got '{raw}'") from exc
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {value}")
    return value


def _trusted_proxies(env: dict[str, str]) -> tuple[str, ...]:
    trusted = tuple(
        p.strip() for p in env.get("TIERLINE_TRUSTED_PROXIES", "").split(",") if p.strip()
    )
    try:
        parse_networks(trusted)
    except ValueError as exc:
        raise SettingsError(f"TIERLINE_TRUSTED_PROXIES: {exc}") from None
    return trusted


def _password_hash_cost(env: dict[str, str]) -> str:
    cost = env.get("TIERLINE_PASSWORD_HASH_COST", "").strip() or "standard"
    if cost not in PASSWORD_HASH_COSTS:
        raise SettingsError(
            "TIERLINE_PASSWORD_HASH_COST must be 'standard' or 'minimal' (test suites only)"
        )
    return cost


def _tracing(env: dict[str, str]) -> tuple[str, float]:
    tracing = env.get("TIERLINE_TRACING", "off").strip().lower() or "off"
    if tracing not in {"off", "otlp", "console"}:
        raise SettingsError("TIERLINE_TRACING must be 'off', 'otlp' or 'console'")
    raw = env.get("TIERLINE_TRACING_SAMPLE", "0.1").strip() or "0.1"
    try:
        sample = float(raw)
    except ValueError:
        sample = -1.0
    if not 0.0 <= sample <= 1.0:
        raise SettingsError(f"TIERLINE_TRACING_SAMPLE must be between 0 and 1, got '{raw}'")
    return tracing, sample


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Tierline process."""

    control_database_url: str | None = None
    regions: dict[str, str] | None = None
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(".tierline"))
    master_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_format: str = "console"
    embedded_regions: tuple[str, ...] = ("eu", "us")
    db_pool_size: int = 10
    migrate_concurrency: int = 8
    operator_token: str | None = None
    max_request_bytes: int = 25 * 1024 * 1024
    queue_name: str = "tierline:jobs"
    max_upload_bytes: int = 512 * 1024 * 1024
    smtp_url: str | None = field(default=None, repr=False)  # may carry a password
    mail_from: str = "Tierline <no-reply@localhost>"
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: str | None = field(default=None, repr=False)
    tracing: str = "off"
    worker_grace_seconds: int = 25
    tracing_sample: float = 0.1
    password_hash_cost: str = "standard"  # noqa: S105 (a cost level, not a password)

    @property
    def embedded_databases(self) -> bool:
        """True when PostgreSQL is not configured and Tierline runs its own."""
        return self.control_database_url is None

    @property
    def embedded_redis(self) -> bool:
        """True when Redis is not configured and Tierline runs its own."""
        return self.redis_url is None

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, env_file: Path | None = None
    ) -> Settings:
        """Build settings from ``environ`` (default: the process environment) and ``.env``.

        Real environment variables win over the ``.env`` file.
        """
        source = dict(os.environ) if environ is None else dict(environ)
        dotenv_path = env_file or Path(source.get("TIERLINE_ENV_FILE", ".env"))
        env: dict[str, str] = {}
        if dotenv_path.is_file():
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env.update({k: v for k, v in source.items() if k.startswith("TIERLINE_")})
        return cls._from_mapping(env)

    @classmethod
    def _from_mapping(cls, env: dict[str, str]) -> Settings:
        control = env.get("TIERLINE_CONTROL_DATABASE_URL") or None
        regions_raw = env.get("TIERLINE_REGIONS") or None
        if (control is None) != (regions_raw is None):
            raise SettingsError(
                "set both TIERLINE_CONTROL_DATABASE_URL and TIERLINE_REGIONS, or neither "
                "(neither starts the embedded PostgreSQL)"
            )
        level = env.get("TIERLINE_LOG_LEVEL", "INFO").upper()
        if level not in _LOG_LEVELS:
            raise SettingsError(f"TIERLINE_LOG_LEVEL must be one of {sorted(_LOG_LEVELS)}")
        log_format = env.get("TIERLINE_LOG_FORMAT", "console").lower()
        if log_format not in {"console", "json"}:
            raise SettingsError("TIERLINE_LOG_FORMAT must be 'console' or 'json'")
        embedded_regions = tuple(
            r.strip() for r in env.get("TIERLINE_EMBEDDED_REGIONS", "eu,us").split(",") if r.strip()
        )
        for name in embedded_regions:
            if not _REGION_NAME.match(name):
                raise SettingsError(f"TIERLINE_EMBEDDED_REGIONS: bad region name '{name}'")
        base_url = env.get("TIERLINE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise SettingsError("TIERLINE_BASE_URL must start with http:// or https://")
        smtp_url = env.get("TIERLINE_SMTP_URL", "").strip() or None
        if smtp_url is not None and not smtp_url.startswith(
            ("smtp://", "smtps://", "smtp+starttls://")
        ):
            raise SettingsError(
                "TIERLINE_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://"
            )
        mail_from = env.get("TIERLINE_MAIL_FROM", "").strip() or "Tierline <no-reply@localhost>"
        if "@" not in mail_from or any(ch in mail_from for ch in "\r\n"):
            raise SettingsError("TIERLINE_MAIL_FROM must be an address, e.g. Tierline <a@b.c>")
        trusted = _trusted_proxies(env)
        tracing, sample = _tracing(env)
        password_hash_cost = _password_hash_cost(env)
        return cls(
            control_database_url=control,
            regions=parse_regions(regions_raw) if regions_raw else None,
            redis_url=env.get("TIERLINE_REDIS_URL") or None,
            data_dir=Path(env.get("TIERLINE_DATA_DIR") or ".tierline").expanduser().resolve(),
            master_key=env.get("TIERLINE_MASTER_KEY") or None,
            base_url=base_url,
            log_level=level,
            log_format=log_format,
            embedded_regions=embedded_regions or ("eu", "us"),
            db_pool_size=_int(env, "TIERLINE_DB_POOL_SIZE", 10),
            migrate_concurrency=_int(env, "TIERLINE_MIGRATE_CONCURRENCY", 8),
            operator_token=env.get("TIERLINE_OPERATOR_TOKEN") or None,
            max_request_bytes=_int(env, "TIERLINE_MAX_REQUEST_BYTES", 25 * 1024 * 1024, 1024),
            queue_name=env.get("TIERLINE_QUEUE_NAME") or "tierline:jobs",
            max_upload_bytes=_int(env, "TIERLINE_MAX_UPLOAD_BYTES", 512 * 1024 * 1024, 1024),
            smtp_url=smtp_url,
            mail_from=mail_from,
            trusted_proxies=trusted,
            metrics_token=env.get("TIERLINE_METRICS_TOKEN") or None,
            tracing=tracing,
            tracing_sample=sample,
            worker_grace_seconds=_int(env, "TIERLINE_WORKER_GRACE_SECONDS", 25, 0),
            password_hash_cost=password_hash_cost,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings.from_env()
