"""Customer list page on 100,000 customers: p50 / p95 of a filtered page (target p95 <= 150 ms).

One tenant on fresh embedded servers; 100,000 customers loaded with COPY (codes, names and
attributes drawn from a seeded generator: four regions, 25 countries, five channels, a
global > parent > sold-to > ship-to hierarchy), then ``ANALYZE`` as an import leaves it.

Timed, one request at a time through the real app (sign-in, permission check, Casbin, tenant
unit of work, query, template), over a seeded mix of 200 filtered list-page requests: region,
country, channel, account type, strategic and business-unit filters and their combinations,
searches (common and rare words, code prefixes, two-letter fragments), sort by name, and
"next page" links taken from earlier answers. A quarter of them come from a regional planner
whose grant is limited to ``emea``.

Baselines for the same 200 requests, measured in the same run:

- ``sql_keyset``: the page's keyset SELECT alone, on a raw asyncpg connection;
- ``query_layer``: ``browse.list_page`` in a tenant unit of work (the SELECT, the capped count
  when needed, the schema binding), i.e. everything but HTTP, auth and HTML.

Run ``python bench/bench_customer_list.py`` (or ``python -m bench customer_list``); writes
``bench/results/customer_list.json``.
"""

from __future__ import annotations

import asyncio
import gc
import random
import re
import string
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._harness import fresh_runtime, summary, write_result

CUSTOMERS = 100_000
REQUESTS = 200
WARMUP = 10
TARGET_P95_MS = 150.0
SEED = 20261124
PASSWORD = "bench horse battery staple"

REGIONS = {  # region -> (share, countries)
    "emea": (0.45, ["DE", "FR", "GB", "IT", "ES", "NL", "PL", "SE", "CH", "AT"]),
    "amer": (0.30, ["US", "CA", "MX", "BR", "AR"]),
    "apac": (0.20, ["JP", "CN", "AU", "IN", "SG", "KR", "TH"]),
    "latam": (0.05, ["CL", "CO", "PE"]),
}
CHANNELS = ["retail", "wholesale", "ecommerce", "distributor", "foodservice"]
UNITS = ["chem", "food", "pharma", "auto"]
WORDS = [
    "Nordic",
    "Alpine",
    "Pacific",
    "Atlantic",
    "Central",
    "United",
    "Royal",
    "Global",
    "Metro",
    "Summit",
    "Coastal",
]
WORDS += ["Prime", "Golden", "Silver", "Northern", "Eastern"]
TRADES = [
    "Trading",
    "Logistics",
    "Foods",
    "Chemicals",
    "Retail",
    "Pharma",
    "Motors",
    "Supplies",
    "Distribution",
]
TRADES += ["Markets", "Industries", "Wholesale"]
CITIES = [
    "Hamburg",
    "Lyon",
    "Leeds",
    "Milano",
    "Sevilla",
    "Utrecht",
    "Krakow",
    "Malmo",
    "Boston",
    "Toronto",
]
CITIES += ["Monterrey", "Osaka", "Perth", "Pune", "Santiago", "Bogota"]
FORMS = ["GmbH", "SA", "Ltd", "Inc", "BV", "KK", "Srl", "AB", "Pty", "SpA"]
COLUMNS = ("code", "name", "account_type", "parent_code", "global_account_code", "region",
           "country", "channel", "strategic", "business_unit", "scope", "crm_tier")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Data


def customer_records(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """Globals first, then parents, sold-tos and ship-tos, each pointing at an earlier row."""
    regions = list(REGIONS)
    weights = [REGIONS[r][0] for r in regions]
    tiers = [("global", 0.01), ("parent", 0.04), ("sold_to", 0.45), ("ship_to", 0.50)]
    records: list[tuple[Any, ...]] = []
    by_type: dict[str, list[tuple[str, str]]] = {t: [] for t, _ in tiers}  # (code, global)
    above = {"parent": "global", "sold_to": "parent", "ship_to": "sold_to"}
    for account_type, share in tiers:
        for _ in range(int(count * share)):
            region = rng.choices(regions, weights)[0]
            country = rng.choice(REGIONS[region][1])
            code = f"{country}{len(records):07d}"
            parent = top = None
            if account_type in above:
                parent, top = rng.choice(by_type[above[account_type]])
            top = top or (code if account_type == "global" else None)
            name = (
                f"{rng.choice(WORDS)} {rng.choice(TRADES)} {rng.choice(CITIES)} "
                f"{rng.choice(FORMS)} {rng.randrange(1, 10_000)}"
            )
            records.append((
                code, name, account_type, parent, top, region, country, rng.choice(CHANNELS),
                rng.random() < 0.03, rng.choice(UNITS), region, rng.choice("abc"),
            ))  # fmt: skip
            by_type[account_type].append((code, top or code))
    return records


async def load(runtime: Any, records: list[tuple[Any, ...]]) -> tuple[Any, dict[str, float]]:
    """The tenant with its customers (COPY), statistics, and two planners to sign in as."""
    from tierline.platform.identity.users import SYSTEM, create_user
    from tierline.platform.tenancy import tenant_session
    from tierline.tenants.service import provision_tenant

    tenant = await provision_tenant(runtime.databases, "bench_md", "Bench Master Data", "eu")
    started = time.perf_counter()
    async with tenant_session(tenant) as session:
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "customers", records=records, columns=COLUMNS, schema_name=tenant.schema
        )
    copy_s = time.perf_counter() - started
    started = time.perf_counter()
    # What autovacuum does soon after a bulk load: statistics, and the visibility map and hint
    # bits, so the timed reads do not pay for writing those (VACUUM cannot run in a transaction).
    async with runtime.databases.region(tenant.region).connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(f'VACUUM (ANALYZE) "{tenant.schema}".customers')  # type: ignore[union-attr]
    vacuum_s = time.perf_counter() - started
    async with tenant_session(tenant) as session:
        for role, scope in (("planner", "*"), ("planner", "emea")):
            await create_user(
                session, email=f"{role}.{scope.strip('*') or 'all'}@bench.example",
                role=role, scope=scope, actor=SYSTEM, password=PASSWORD,
            )  # fmt: skip
    return tenant, {
        "copy_s": round(copy_s, 2),
        "vacuum_analyze_s": round(vacuum_s, 2),
    }


# ---------------------------------------------------------------------------------------------
# The request mix


def request_mix(rng: random.Random, records: list[tuple[Any, ...]]) -> list[dict[str, str]]:
    """Query strings of list-page requests, as planners would type and click them."""

    def some_name_words() -> str:
        words = rng.choice(records)[1].split()
        start = rng.randrange(0, 3)
        return " ".join(words[start : start + 2])

    makers = [
        (10, lambda: {}),
        (14, lambda: {"region": rng.choice(list(REGIONS))}),
        (10, lambda: {"region": rng.choice(list(REGIONS)), "channel": rng.choice(CHANNELS)}),
        (
            10,
            lambda: {
                "country": rng.choice(REGIONS["emea"][1] + REGIONS["amer"][1]),
                "account_type": rng.choice(["sold_to", "ship_to"]),
            },
        ),
        (6, lambda: {"strategic": "yes", "region": rng.choice(list(REGIONS))}),
        (
            5,
            lambda: {
                "business_unit": rng.choice(UNITS),
                "channel": rng.choice(CHANNELS),
                "account_type": "global",
            },
        ),
        (10, lambda: {"q": rng.choice(TRADES + CITIES).lower()[:6]}),
        (10, lambda: {"q": some_name_words()}),
        (5, lambda: {"q": rng.choice(records)[0][:7]}),
        (5, lambda: {"q": "".join(rng.choices(string.ascii_lowercase, k=2))}),
        (10, lambda: {"sort": "name", "region": rng.choice(list(REGIONS))}),
        (5, lambda: {"sort": "name", "q": rng.choice(WORDS).lower()}),
    ]
    weights = [w for w, _ in makers]
    return [rng.choices(makers, weights)[0][1]() for _ in range(REQUESTS)]


# ---------------------------------------------------------------------------------------------
# Driving the app


@asynccontextmanager
async def signed_in_client(app: Any, email: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        page = await client.get("/t/bench_md/login")
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
        assert csrf, "no sign-in form"
        signed = await client.post(
            "/t/bench_md/login",
            data={"email": email, "password": PASSWORD, "_csrf": csrf.group(1)},
        )
        assert signed.status_code == 303, signed.text
        yield client


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's start-up and shut-down (one task owns both, as ASGI servers do)."""
    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


NEXT = re.compile(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#results" [^>]*rel="next">')
COUNT = re.compile(r'<p id="match-count"[^>]*>([^<]*)</p>')


async def time_pages(
    clients: dict[str, httpx.AsyncClient], mix: list[dict[str, str]], rng: random.Random
) -> tuple[list[float], list[tuple[str, dict[str, str]]], list[str]]:
    """Milliseconds per request; also the (user, query) actually sent and the match counts."""
    timings: list[float] = []
    sent: list[tuple[str, dict[str, str]]] = []
    counts: list[str] = []
    next_links: list[tuple[str, str]] = []
    for params in mix:
        user = "emea" if rng.random() < 0.25 else "all"
        if next_links and rng.random() < 0.12:  # a planner clicking "Next"
            user, url = next_links.pop(rng.randrange(len(next_links)))
            params = dict(parse_qsl(urlsplit(url.replace("&amp;", "&")).query))
        started = time.perf_counter()
        resp = await clients[user].get("/t/bench_md/customers", params=params)
        timings.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, (params, resp.status_code, resp.text[:500])
        sent.append((user, params))
        found = COUNT.search(resp.text)
        counts.append(found.group(1) if found else "?")
        link = NEXT.search(resp.text)
        if link:
            next_links.append((user, link.group(1)))
    return timings, sent, counts


async def baselines(
    runtime: Any, tenant: Any, sent: list[tuple[str, dict[str, str]]]
) -> tuple[list[float], list[float]]:
    """The same requests as bare SQL (keyset SELECT on asyncpg) and through the query layer."""
    from sqlalchemy.dialects import postgresql

    from tierline.masterdata.browse.lists import list_page, page_select
    from tierline.masterdata.browse.query import CUSTOMERS as SPEC
    from tierline.masterdata.browse.query import parse_list_query
    from tierline.platform.db import TENANT_SCHEMA
    from tierline.platform.tenancy import tenant_session

    dialect = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
    sql_ms, layer_ms = [], []
    engine = runtime.databases.region(tenant.region)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for user, params in sent:
            scopes = frozenset({"emea"}) if user == "emea" else None
            query = parse_list_query(SPEC, params)
            compiled = page_select(SPEC, query, scopes).compile(
                dialect=dialect,
                schema_translate_map={TENANT_SCHEMA: tenant.schema},
                compile_kwargs={"render_postcompile": True},  # expand IN (...) into $n
            )
            # SQLAlchemy writes the schema in at execution; this is that step done by hand.
            sql = compiled.string.replace(f"__[SCHEMA_{TENANT_SCHEMA}]", f'"{tenant.schema}"')
            args = [compiled.params[name] for name in compiled.positiontup or []]
            started = time.perf_counter()
            await raw.fetch(sql, *args)  # type: ignore[union-attr]
            sql_ms.append((time.perf_counter() - started) * 1000)
    for user, params in sent:
        scopes = frozenset({"emea"}) if user == "emea" else None
        query = parse_list_query(SPEC, params)
        started = time.perf_counter()
        async with tenant_session(tenant) as session:
            await list_page(session, SPEC, query, scopes)
        layer_ms.append((time.perf_counter() - started) * 1000)
    return sql_ms, layer_ms


def rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in values.items()}


async def main() -> None:
    rng = random.Random(SEED)
    async with fresh_runtime() as runtime:
        from tierline.platform.app import create_app

        records = customer_records(rng, CUSTOMERS)
        tenant, loading = await load(runtime, records)
        mix = request_mix(rng, records)
        warmup = request_mix(random.Random(1), records)[:WARMUP]
        # The 100,000 generated records are the harness's, not the server's: without this, a
        # full garbage collection walking them lands inside one timed request (a ~150 ms pause
        # at a fixed position in the run) and measures the benchmark instead of the page.
        del records
        gc.collect()
        gc.freeze()
        app = create_app(runtime.settings, runtime=runtime)
        async with (
            lifespan(app),
            signed_in_client(app, "planner.all@bench.example") as everyone,
            signed_in_client(app, "planner.emea@bench.example") as emea,
        ):
            clients = {"all": everyone, "emea": emea}
            await time_pages(clients, warmup, rng)
            timings, sent, counts = await time_pages(clients, mix, rng)
        sql_ms, layer_ms = await baselines(runtime, tenant, sent)
    page = summary(timings)
    slowest = sorted(
        zip(timings, range(len(timings)), sent, counts, strict=True), key=lambda t: -t[0]
    )[:5]
    write_result(
        "customer_list",
        {
            "customers": CUSTOMERS,
            "requests": len(timings),
            "warmup_requests": WARMUP,
            "regional_share": round(sum(u == "emea" for u, _ in sent) / len(sent), 2),
            "load": loading,
            "page_ms": {**rounded(page), "p50": round(page["median"], 2)},
            "baseline_sql_keyset_ms": rounded(summary(sql_ms)),
            "baseline_query_layer_ms": rounded(summary(layer_ms)),
            "slowest_pages": [
                {"ms": round(ms, 1), "nth": n, "user": user, "query": query, "matches": found}
                for ms, n, (user, query), found in slowest
            ],
            "target_p95_ms": TARGET_P95_MS,
            "within_target": page["p95"] <= TARGET_P95_MS,
            "run_id": uuid.uuid4().hex[:8],
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
