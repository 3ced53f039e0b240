"""Test harness: real embedded PostgreSQL and Redis for the whole session, a fresh tenant per
test, one app for the session and HTTP clients against it. Environment is set before Tierline
is imported. The builders and web helpers live in ``tests/support``; the names tests import
from here (``Staff``, ``sign_in``, ``http_client``...) are re-exported."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# A short path keeps PostgreSQL's socket path under the 107-byte limit.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="tl-tests-", dir="/tmp"))
for _key in list(os.environ):
    if _key.startswith("TIERLINE_"):
        del os.environ[_key]
os.environ["TIERLINE_DATA_DIR"] = str(_DATA_DIR)
os.environ["TIERLINE_ENV_FILE"] = str(_DATA_DIR / "no.env")
os.environ["TIERLINE_LOG_LEVEL"] = "WARNING"
os.environ["TIERLINE_OPERATOR_TOKEN"] = "test-operator-token-0123456789"
# Argon2 at its lowest cost: the suite creates and signs in hundreds of users (production's
# cost is asserted once, in tests/platform/test_passwords.py).
os.environ["TIERLINE_PASSWORD_HASH_COST"] = "minimal"

import httpx  # noqa: E402
import psutil  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from litestar import Litestar  # noqa: E402

from tests.support.builders import (  # noqa: E402
    Staff,
    add_customers,
    add_order_lines,
    add_products,
    new_tenant,
    new_user,
    unique_slug,
)
from tests.support.web import asgi_lifespan, csrf_of, http_client, running, sign_in  # noqa: E402
from tierline.platform.embedded import stop_embedded  # noqa: E402
from tierline.platform.runtime import Runtime, install_runtime, open_runtime  # noqa: E402
from tierline.platform.settings import Settings, get_settings  # noqa: E402
from tierline.platform.tenancy import TenantRef  # noqa: E402

if TYPE_CHECKING:
    from tests.support.oidc_provider import OidcTestProvider

__all__ = [
    "OPERATOR_TOKEN",
    "Staff",
    "StaffFactory",
    "TenantFactory",
    "asgi_lifespan",
    "csrf_of",
    "http_client",
    "sign_in",
    "unique_slug",
]

OPERATOR_TOKEN = os.environ["TIERLINE_OPERATOR_TOKEN"]

# Property tests judge results, not speed: on a shared 2-core CI machine running two workers,
# drawing an example can take seconds, which Hypothesis would otherwise report as a failure.
hypothesis_settings.register_profile(
    "tierline", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("tierline")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_app: the test gets an app of its own instead of the session's (it changes the "
        "app's state or runs its lifespan)",
    )


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _DATA_DIR


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        stop_embedded(_DATA_DIR)
    except subprocess.SubprocessError:
        _stop_postgres_at_once(_DATA_DIR / "postgres")
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


def _stop_postgres_at_once(pgdata: Path) -> None:
    """Immediate shutdown of the session's server (no checkpoint: its data is thrown away)."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    postmaster.send_signal(signal.SIGQUIT)
    psutil.wait_procs([postmaster], timeout=30)


async def _throwaway_server(runtime: Runtime) -> None:
    """The session's PostgreSQL holds nothing worth a crash-safe write (its data directory is
    deleted at the end): without fsync and full-page images, the thousands of tenant schemas a
    run creates do not make every checkpoint, and the one at shutdown, wait for the disk."""
    async with runtime.databases.control.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("ALTER SYSTEM SET fsync = off")
        await autocommit.exec_driver_sql("ALTER SYSTEM SET full_page_writes = off")
        await autocommit.exec_driver_sql("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    from tierline.platform.assembly import load_job_handlers
    from tierline.tenants.migrate import migrate_all

    load_job_handlers()
    async with open_runtime(settings) as rt:
        await _throwaway_server(rt)
        await migrate_all(rt.databases)
        yield rt
        install_runtime(None)


TenantFactory = Callable[..., Awaitable[TenantRef]]


@pytest.fixture
async def make_tenant(runtime: Runtime) -> TenantFactory:
    """Provision a fresh tenant (own schema) in a region: ``make_tenant(region, name, prefix)``."""

    async def make(region: str = "eu", name: str = "Test Tenant", prefix: str = "t") -> TenantRef:
        return await new_tenant(runtime, region, name, prefix)

    return make


@pytest.fixture(scope="session")
async def seeded_tenant(runtime: Runtime) -> TenantRef:
    """One tenant with the ``small`` synthetic data set, shared by the session (read-mostly:
    tests that write to it use their own scheme codes)."""
    from tierline.demo.seeding import seed_tenant

    tenant = await new_tenant(runtime, "eu", "Seeded Tenant", "seeded")
    await seed_tenant(runtime, tenant, "small")
    return tenant


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> TenantRef:
    return await make_tenant()


@pytest.fixture(scope="session")
async def session_app(runtime: Runtime, settings: Settings) -> AsyncIterator[Litestar]:
    """The app most tests share, its lifespan running for the whole session (building an app
    costs a few hundred milliseconds; tests keep apart by their own tenants and users)."""
    from tierline.platform.app import create_app

    app = create_app(settings, runtime=runtime)
    async with running(app):
        yield app


@pytest.fixture
def app(
    request: pytest.FixtureRequest, session_app: Litestar, runtime: Runtime, settings: Settings
) -> Litestar:
    """The session's app; a test marked ``own_app`` gets a new one, whose lifespan runs while
    a client of it is open."""
    if request.node.get_closest_marker("own_app") is None:
        return session_app
    from tierline.platform.app import create_app

    return create_app(settings, runtime=runtime)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as c:
        yield c


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A second, independent browser (its own cookie jar) on the same app."""
    async with http_client(app) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(runtime: Runtime) -> Iterator[str]:
    """``tierline serve`` on a free port, sharing the session's embedded servers."""
    from tests.support.live_server import live_server as serve

    with serve() as base:
        yield base


@pytest.fixture(scope="session")
def idp_server() -> Iterator[OidcTestProvider]:
    """A real OpenID Connect provider on loopback, started the first time a test asks."""
    from tests.support.oidc_provider import OidcTestProvider

    provider = OidcTestProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def idp(idp_server: OidcTestProvider) -> OidcTestProvider:
    """The test provider, reset for this test (default user, no misbehaviour), with
    Tierline's cached discovery documents and key sets forgotten."""
    from tierline.platform.identity import oidc_protocol

    idp_server.reset()
    oidc_protocol.reset_caches()
    return idp_server


@pytest.fixture
def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


StaffFactory = Callable[..., Awaitable[Staff]]


@pytest.fixture
def make_staff(runtime: Runtime) -> StaffFactory:
    """Create an active user with a known password and one role (customer users: a code):
    ``make_staff(tenant, role="admin", scope="*", customer=None)``."""
    return new_user


@pytest.fixture
def make_customers(runtime: Runtime) -> Callable[..., Awaitable[None]]:
    """``make_customers(tenant, "C1", {"code": "C2", "strategic": True}, ...)``."""
    return add_customers


@pytest.fixture
def make_products(runtime: Runtime) -> Callable[..., Awaitable[None]]:
    """``make_products(tenant, "SKU1", {"sku": "SKU2", "base_uom": "KG"}, ...)``."""
    return add_products


@pytest.fixture
def make_order_lines(runtime: Runtime) -> Callable[..., Awaitable[None]]:
    """``make_order_lines(tenant, [{"customer_code": "C1", "sku": "SKU1", "revenue": 10.0}])``:
    revenue and margin sealed with the tenant's own codec."""
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    async def make(tenant: TenantRef, lines: list[dict[str, Any]]) -> None:
        codec = await load_codec(tenant, kms_from_settings(runtime.settings))
        await add_order_lines(tenant, lines, codec)

    return make
