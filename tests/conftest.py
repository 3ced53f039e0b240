"""Test harness: real embedded PostgreSQL and Redis for the whole session, a fresh tenant per
test, an HTTP client against the app. Environment is set before Tierline is imported."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
import pytest  # noqa: E402
from litestar import Litestar  # noqa: E402

from tierline.platform.embedded import stop_embedded  # noqa: E402
from tierline.platform.runtime import Runtime, install_runtime, open_runtime  # noqa: E402
from tierline.platform.settings import Settings, get_settings  # noqa: E402
from tierline.platform.tenancy import TenantRef  # noqa: E402

if TYPE_CHECKING:
    from tests.support.oidc_provider import OidcTestProvider

OPERATOR_TOKEN = os.environ["TIERLINE_OPERATOR_TOKEN"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _DATA_DIR


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_embedded(_DATA_DIR)
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    from tierline.platform.assembly import load_job_handlers
    from tierline.tenants.migrate import migrate_all

    load_job_handlers()
    async with open_runtime(settings) as rt:
        await migrate_all(rt.databases)
        yield rt
        install_runtime(None)


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


TenantFactory = Callable[..., Awaitable[TenantRef]]


@pytest.fixture
async def make_tenant(runtime: Runtime) -> TenantFactory:
    """Provision a fresh tenant (own schema) in a region; about 30 ms each."""
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.service import provision_tenant

    async def make(region: str = "eu", name: str = "Test Tenant", prefix: str = "t") -> TenantRef:
        return await provision_tenant(
            runtime.databases,
            unique_slug(prefix),
            name,
            region,
            kms=kms_from_settings(runtime.settings),
        )

    return make


@pytest.fixture(scope="session")
async def seeded_tenant(runtime: Runtime) -> TenantRef:
    """One tenant with the ``small`` synthetic data set, shared by the session (read-mostly:
    tests that write to it use their own scheme codes)."""
    from tierline.demo.seeding import seed_tenant
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.tenants.service import provision_tenant

    tenant = await provision_tenant(
        runtime.databases,
        unique_slug("seeded"),
        "Seeded Tenant",
        "eu",
        kms=kms_from_settings(runtime.settings),
    )
    await seed_tenant(runtime, tenant, "small")
    return tenant


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> TenantRef:
    return await make_tenant()


@pytest.fixture
async def app(runtime: Runtime, settings: Settings) -> Litestar:
    from tierline.platform.app import create_app

    return create_app(settings, runtime=runtime)


@asynccontextmanager
async def http_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that runs ``app`` (and its lifespan) on the test's own event loop, so the
    app shares the session's engines. Litestar's test client would run it in another loop."""
    async with asgi_lifespan(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@asynccontextmanager
async def asgi_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Drive the ASGI lifespan protocol from one background task (startup and shutdown must
    happen in the same task, and fixtures set up and tear down in different ones)."""
    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))  # type: ignore[arg-type]
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


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


@dataclass(frozen=True)
class Staff:
    tenant: TenantRef
    email: str
    password: str
    user_id: str


StaffFactory = Callable[..., Awaitable[Staff]]


@pytest.fixture
async def make_staff(runtime: Runtime) -> StaffFactory:
    """Create an active user with a known password and one role (customer users: a code)."""
    from tierline.platform.identity.users import SYSTEM, create_user
    from tierline.platform.tenancy import tenant_session

    async def make(
        tenant: TenantRef, role: str = "admin", scope: str = "*", customer: str | None = None
    ) -> Staff:
        email = f"{role}.{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery staple"
        async with tenant_session(tenant) as s:
            created = await create_user(
                s,
                email=email,
                role=role,
                scope=scope,
                actor=SYSTEM,
                password=password,
                kind="customer" if role == "customer" else "staff",
                customer_code=customer,
            )
        return Staff(tenant, email, password, str(created.user.id))

    return make


CSRF_INPUT = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, staff: Staff) -> httpx.Response:
    """Sign in through the real login form (CSRF cookie and field included)."""
    page = await client.get(f"/t/{staff.tenant.slug}/login")
    return await client.post(
        f"/t/{staff.tenant.slug}/login",
        data={"email": staff.email, "password": staff.password, "_csrf": csrf_of(page.text)},
    )
