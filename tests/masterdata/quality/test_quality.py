"""Data freshness and quality: feed status and settings, findings over real imports plus legacy
rows written straight into the tables, masking, tenant isolation, and the JSON twin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import polars as pl
import pytest
from sqlalchemy import insert, select, text, update

from tests.conftest import Staff, StaffFactory, TenantFactory, csrf_of, http_client, sign_in
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Feed, OrderLine
from tierline.masterdata.profiles.presets import presets
from tierline.masterdata.quality.checks import Finding
from tierline.masterdata.quality.feeds import (
    FeedNotFound,
    InvalidFeedSettings,
    classify_feed,
    feed_status,
    stale_feeds,
    update_feed_settings,
)
from tierline.masterdata.quality.service import QualityReport, quality_report
from tierline.platform.db import utcnow
from tierline.platform.encryption import MASKED, FieldCodec
from tierline.platform.encryption.store import kms_from_settings, load_codec
from tierline.platform.identity.users import SYSTEM, Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

DAY = dt.timedelta(days=1)
TODAY = dt.date.today()
D = {n: (TODAY - n * DAY).isoformat() for n in range(40)}

CUSTOMERS = pl.DataFrame(
    {
        "code": ["C1", "C2", "C3", "C4"],
        "name": ["Alpha", "Beta", "Gamma", "Delta"],
        "account_type": ["ship_to"] * 4,
        "region": ["emea", None, "amer", None],
        "country": ["DE", "DE", None, "FR"],
        "channel": ["retail", None, "retail", "retail"],
        "account_manager_email": ["am@example.com", "am@example.com", None, "am@example.com"],
        "business_unit": ["food", "food", None, "food"],
    }
)
PRODUCTS = pl.DataFrame(
    {
        "sku": ["S1", "S2", "S3"],
        "description": ["Olive oil", "Vinegar", "Salt"],
        "product_line": ["oils", None, "spices"],
        "category": ["food", "food", None],
        "base_uom": ["EA"] * 3,
        "lifecycle": ["active", "npi", "npi"],
        "launch_date": ["2020-01-01", None, "2025-06-01"],
    }
)
LINES = pl.DataFrame(
    {
        "order_no": ["O1", "O1", "O2", "O3"],
        "line_no": ["1", "2", "1", "1"],
        "customer_code": ["C1", "C1", "C2", "C3"],
        "sku": ["S1", "S2", "S1", "S3"],
        "order_date": [D[30], D[30], D[29], D[28]],
        "quantity": ["10", "10", "5", "1"],
        "uom": ["EA"] * 4,
        "revenue": ["100.00", "300.00", "100.00", "50.00"],
        "margin": ["20.00", "30.00", "10.00", "5.00"],
        "margin_estimated": ["false", "true", "true", "false"],
        "currency": ["EUR"] * 4,
        "delivered_date": [D[27], D[27], None, D[25]],
        # O1/2: 20 delivered against 10 ordered, more than 150% (the import lets it through).
        "delivered_quantity": ["10", "20", None, "1"],
    }
)


async def load(runtime: Runtime, tenant: TenantRef) -> None:
    for entity, frame in (("customers", CUSTOMERS), ("products", PRODUCTS), ("order_lines", LINES)):
        result = await run_import(
            runtime, tenant, entity, frame, presets()[f"generic_{entity}"], SYSTEM
        )
        assert result.status == "applied", result.errors


async def codec_of(runtime: Runtime, tenant: TenantRef) -> FieldCodec:
    return await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)


def legacy_line(order_no: str, customer: str, sku: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_no": order_no,
        "line_no": 1,
        "customer_code": customer,
        "sku": sku,
        "order_date": TODAY - 20 * DAY,
        "quantity": Decimal(1),
        "ordered_quantity": Decimal(1),
        "ordered_uom": "EA",
        "currency": "EUR",
    }
    return row | values


async def add_legacy_rows(runtime: Runtime, tenant: TenantRef) -> None:
    """Rows an older load could have left behind, written past the import's checks."""
    codec = await codec_of(runtime, tenant)

    def seal(value: str, column: str, key: str) -> bytes | None:
        return codec.encrypt(Decimal(value), table="order_lines", column=column, row_key=key)

    async with tenant_session(tenant) as s:
        await s.execute(
            insert(OrderLine),
            [
                legacy_line("L1", "C1", "S1", delivered_date=TODAY - 22 * DAY),
                legacy_line("L2", "C2", "S3", quantity=Decimal(0), ordered_quantity=Decimal(-5)),
                legacy_line(
                    "L3",
                    "C1",
                    "S1",
                    revenue_enc=seal("10", "revenue", "L3/1"),
                    margin_enc=seal("50", "margin", "L3/1"),
                ),
            ],
        )
        # O1/1's margin ciphertext copied onto O3/1: it must fail to open there.
        await s.execute(
            text(
                "UPDATE order_lines SET margin_enc = (SELECT margin_enc FROM order_lines "
                "WHERE order_no = 'O1' AND line_no = 1) WHERE order_no = 'O3' AND line_no = 1"
            )
        )


async def report_of(runtime: Runtime, tenant: TenantRef, **kwargs: Any) -> QualityReport:
    codec = await codec_of(runtime, tenant)
    async with tenant_session(tenant) as s:
        return await quality_report(s, codec, utcnow(), **kwargs)


def by_key(findings: list[Finding], entity: str | None = None) -> dict[str, Finding]:
    return {f.key: f for f in findings if entity is None or f.entity == entity}


@pytest.fixture
async def loaded(runtime: Runtime, tenant: TenantRef) -> TenantRef:
    await load(runtime, tenant)
    await add_legacy_rows(runtime, tenant)
    return tenant


# ---------------------------------------------------------------------------------------------
# Findings


async def test_implausible_values_are_counted_with_order_keys(
    runtime: Runtime, loaded: TenantRef
) -> None:
    report = await report_of(runtime, loaded)
    assert report.order_lines == 7
    found = by_key(report.implausible)
    counts = {k: f.count for k, f in found.items()}
    assert counts == {
        "unreadable": 1,
        "margin_above_revenue": 1,
        "negative_quantity": 1,
        "over_delivered": 1,
        "delivered_before_order": 1,
    }
    assert [e.key for e in found["unreadable"].examples] == ["O3/1"]
    assert [e.key for e in found["margin_above_revenue"].examples] == ["L3/1"]
    assert [e.key for e in found["negative_quantity"].examples] == ["L2/1"]
    assert [e.key for e in found["over_delivered"].examples] == ["O1/2"]
    late = found["delivered_before_order"].examples[0]
    assert (late.key, late.customer_code, late.sku) == ("L1/1", "C1", "S1")
    assert found["unreadable"].total == 7 and found["unreadable"].share == pytest.approx(1 / 7)


async def test_estimated_margins_per_product_line(runtime: Runtime, loaded: TenantRef) -> None:
    report = await report_of(runtime, loaded)
    rows = {e.product_line: e for e in report.estimated}
    assert set(rows) == {"oils", "spices", None}
    oils, spices, unnamed = rows["oils"], rows["spices"], rows[None]
    # oils: O1/1 (100), O2/1 (100, estimated), L1/1 (no revenue), L3/1 (10)
    assert (oils.lines, oils.estimated, oils.currency) == (4, 1, "EUR")
    assert oils.revenue_share == pytest.approx(100 / 210)
    assert (spices.lines, spices.estimated, spices.revenue_share) == (2, 0, 0.0)
    assert (unnamed.lines, unnamed.estimated, unnamed.revenue_share) == (1, 1, 1.0)
    assert report.estimated_lines == 2


async def test_missing_attributes_with_shares_and_examples(
    runtime: Runtime, loaded: TenantRef
) -> None:
    report = await report_of(runtime, loaded)
    customers = by_key(report.missing, "customers")
    assert {k: (f.count, f.total) for k, f in customers.items()} == {
        "region": (2, 4),
        "country": (1, 4),
        "channel": (1, 4),
        "account_manager_email": (1, 4),
        "business_unit": (1, 4),
    }
    assert [e.key for e in customers["region"].examples] == ["C2", "C4"]
    assert customers["region"].examples[0].customer_code == "C2"
    products = by_key(report.missing, "products")
    assert {k: (f.count, f.total) for k, f in products.items()} == {
        "product_line": (1, 3),
        "category": (1, 3),
        "lifecycle": (0, 3),
        "launch_date": (1, 2),  # of the two NPI products, S2 has no launch date
    }
    assert [(e.key, e.sku) for e in products["launch_date"].examples] == [("S2", "S2")]
    assert products["launch_date"].share == 0.5


async def test_examples_are_capped_and_batches_span_the_table(
    runtime: Runtime, tenant: TenantRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(runtime, tenant)
    many = pl.DataFrame(
        {
            "code": [f"X{i:03d}" for i in range(30)],
            "name": ["No region"] * 30,
            "account_type": ["ship_to"] * 30,
        }
    )
    result = await run_import(
        runtime, tenant, "customers", many, presets()["generic_customers"], SYSTEM
    )
    assert result.status == "applied"
    # Tiny batches: the keyset walk must add up to the same answer as one batch.
    monkeypatch.setattr("tierline.masterdata.quality.money.BATCH_SIZE", 3)
    report = await report_of(runtime, tenant)
    region = by_key(report.missing, "customers")["region"]
    assert region.count == 32 and len(region.examples) == 20
    assert sum(e.lines for e in report.estimated) == 4
    assert {e.product_line: e.estimated for e in report.estimated} == {
        "oils": 1,
        None: 1,
        "spices": 0,
    }


async def test_regional_scope_limits_findings(runtime: Runtime, loaded: TenantRef) -> None:
    report = await report_of(runtime, loaded, scopes=frozenset({"amer"}))
    assert report.order_lines == 1  # O3/1, the only line of C3 (scope amer)
    assert by_key(report.implausible)["unreadable"].count == 1
    assert by_key(report.implausible)["delivered_before_order"].count == 0
    assert by_key(report.missing, "customers")["country"].total == 1
    nothing = await report_of(runtime, loaded, scopes=frozenset())
    assert nothing.order_lines == 0 and nothing.estimated == []


# ---------------------------------------------------------------------------------------------
# Feeds


def test_classify_feed() -> None:
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert classify_feed(None, None, 24, now) == ("never", "never loaded successfully")
    assert classify_feed(now - 24 * hour, None, 24, now) == ("fresh", None)
    status, reason = classify_feed(now - 25 * hour, None, 24, now)
    assert status == "stale" and reason and "last successful load 25 h ago" in reason
    status, reason = classify_feed(now - hour, now - 10 * 24 * hour, 24, now)
    assert status == "stale" and reason and "newest source record is 10 days old" in reason
    assert classify_feed(now - hour, now - 2 * hour, 24, now)[0] == "fresh"


async def test_feed_status_and_stale_feeds(runtime: Runtime, tenant: TenantRef) -> None:
    async with tenant_session(tenant) as s:
        before = await feed_status(s, utcnow())
    assert [(f.name, f.status, f.placeholder) for f in before] == [
        ("customers:erp", "never", True),
        ("products:erp", "never", True),
        ("order_lines:erp", "never", True),
    ]
    await load(runtime, tenant)
    now = utcnow()
    async with tenant_session(tenant) as s:
        assert {f.name: f.status for f in await feed_status(s, now)} == {
            "customers:erp": "fresh",
            "products:erp": "fresh",
            "order_lines:erp": "fresh",
        }
        assert await stale_feeds(s, now) == []
        await s.execute(
            update(Feed)
            .where(Feed.name == "customers:erp")
            .values(last_success_at=now - dt.timedelta(hours=30))
        )
        await s.execute(
            update(Feed)
            .where(Feed.name == "products:erp")
            .values(newest_source_at=now - dt.timedelta(days=5))
        )
    async with tenant_session(tenant) as s:
        stale = await stale_feeds(s, now)
        only_customers = await stale_feeds(s, now, entities={"customers", "order_lines"})
    assert [f.name for f in only_customers] == ["customers:erp"]
    assert [(f.name, f.status) for f in stale] == [
        ("customers:erp", "stale"),
        ("products:erp", "stale"),
    ]
    assert stale[0].reason and "30 h ago" in stale[0].reason
    assert stale[1].reason and "newest source record is 5 days old" in stale[1].reason


async def test_update_feed_settings_validates_and_audits(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    steward = await make_staff(tenant, "data_steward")
    portal = await make_staff(tenant, "customer", customer="C1")
    actor = Actor("admin@example.com")
    async with tenant_session(tenant) as s:
        with pytest.raises(InvalidFeedSettings) as bad:
            await update_feed_settings(s, "order_lines:erp", "0", portal.email, actor)
    assert set(bad.value.errors) == {"staleness_hours", "steward_email"}
    async with tenant_session(tenant) as s:
        assert (await s.scalars(select(Feed))).all() == []  # a refused change writes nothing
    async with tenant_session(tenant) as s:
        with pytest.raises(FeedNotFound):
            await update_feed_settings(s, "nope:erp", 24, "", actor)
    # An expected feed that never loaded can be configured before its first load.
    async with tenant_session(tenant) as s:
        state = await update_feed_settings(s, "order_lines:erp", 48, steward.email.upper(), actor)
    assert (state.staleness_hours, state.steward_email, state.status) == (
        48,
        steward.email,
        "never",
    )
    async with tenant_session(tenant) as s:
        await update_feed_settings(s, "order_lines:erp", "48", steward.email, actor)  # no change
        entries = list(
            await s.execute(
                text("SELECT actor, object_id, before, after FROM audit_log WHERE action = :a"),
                {"a": "feeds.configure"},
            )
        )
    assert len(entries) == 1
    assert entries[0].before == {"staleness_hours": 24, "steward_email": None}
    assert entries[0].after == {"staleness_hours": 48, "steward_email": steward.email}
    # The next import keeps the settings.
    await load(runtime, tenant)
    async with tenant_session(tenant) as s:
        feed = await s.scalar(select(Feed).where(Feed.name == "order_lines:erp"))
    assert feed is not None and feed.staleness_hours == 48 and feed.last_success_at is not None


# ---------------------------------------------------------------------------------------------
# Pages and API


async def as_user(client: httpx.AsyncClient, staff: Staff) -> None:
    response = await sign_in(client, staff)
    assert response.status_code == 303, response.text


async def test_steward_configures_a_feed_through_the_form(
    client: httpx.AsyncClient, runtime: Runtime, loaded: TenantRef, make_staff: StaffFactory
) -> None:
    steward = await make_staff(loaded, "data_steward")
    await as_user(client, steward)
    url = f"/t/{loaded.slug}/data-quality"
    page = await client.get(url)
    assert page.status_code == 200
    assert 'id="feed-customers-erp"' in page.text and "<script>" not in page.text
    assert f'href="/t/{loaded.slug}/customers/C2"' in page.text
    assert f'href="/t/{loaded.slug}/products/S2"' in page.text
    csrf = csrf_of(page.text)
    post_url = f"{url}/feeds/customers%3Aerp"

    bad = await client.post(post_url, data={"_csrf": csrf, "staleness_hours": "0"})
    assert bad.status_code == 422 and "between 1 and 2160 hours" in bad.text
    assert 'aria-invalid="true"' in bad.text
    bad = await client.post(post_url, data={"_csrf": csrf, "staleness_hours": "abc"})
    assert bad.status_code == 422 and "whole number" in bad.text
    bad = await client.post(
        post_url,
        data={"_csrf": csrf, "staleness_hours": "12", "steward_email": "ghost@example.com"},
    )
    assert bad.status_code == 422 and "no active staff user" in bad.text
    assert 'value="ghost@example.com"' in bad.text  # what was typed comes back
    missing = await client.post(f"{url}/feeds/nope", data={"_csrf": csrf, "staleness_hours": "1"})
    assert missing.status_code == 404
    no_csrf = await client.post(post_url, data={"staleness_hours": "12"})
    assert no_csrf.status_code == 403

    ok = await client.post(
        post_url,
        data={"_csrf": csrf, "staleness_hours": "12", "steward_email": steward.email},
    )
    assert ok.status_code == 303
    assert ok.headers["location"].startswith(f"{url}?saved=customers%3Aerp")
    after = await client.get(ok.headers["location"])
    assert "Saved the settings of feed customers:erp" in after.text
    async with tenant_session(loaded) as s:
        feed = await s.scalar(select(Feed).where(Feed.name == "customers:erp"))
        actions = list(
            (
                await s.execute(
                    text("SELECT actor FROM audit_log WHERE action = 'feeds.configure'")
                )
            ).scalars()
        )
    assert feed is not None and (feed.staleness_hours, feed.steward_email) == (12, steward.email)
    assert actions == [steward.email]


async def test_money_shares_masked_for_analyst_shown_to_planner(
    app: Any, runtime: Runtime, loaded: TenantRef, make_staff: StaffFactory
) -> None:
    analyst = await make_staff(loaded, "analyst")
    planner = await make_staff(loaded, "planner")
    url = f"/t/{loaded.slug}/data-quality"
    async with http_client(app) as client:
        await as_user(client, analyst)
        page = await client.get(url)
        assert page.status_code == 200
        assert MASKED in page.text and "47.6%" not in page.text
        assert "Shares of revenue are hidden" in page.text
        assert 'name="staleness_hours"' not in page.text  # analysts do not configure feeds
        data = (await client.get("/api/v1/data-quality")).json()
        oils = next(e for e in data["estimated_margins"] if e["product_line"] == "oils")
        assert oils["revenue_share"] is None and oils["masked"] is True
        assert oils["estimated_share"] == 0.25  # a share of lines is not money
    async with http_client(app) as client:
        await as_user(client, planner)
        page = await client.get(url)
        assert page.status_code == 200 and "47.6%" in page.text and MASKED not in page.text
        data = (await client.get("/api/v1/data-quality")).json()
        oils = next(e for e in data["estimated_margins"] if e["product_line"] == "oils")
        assert oils["revenue_share"] == pytest.approx(100 / 210) and oils["masked"] is False
        # Planners read data quality but do not resolve it.
        form = await client.post(
            f"{url}/feeds/customers%3Aerp",
            data={"_csrf": csrf_of(page.text), "staleness_hours": "5"},
        )
        assert form.status_code == 403


async def test_other_tenant_gets_404(
    client: httpx.AsyncClient,
    loaded: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
) -> None:
    other = await make_tenant()
    steward = await make_staff(other, "data_steward")
    await as_user(client, steward)
    own = await client.get(f"/t/{other.slug}/data-quality")
    assert own.status_code == 200
    assert (await client.get(f"/t/{loaded.slug}/data-quality")).status_code == 404
    posted = await client.post(
        f"/t/{loaded.slug}/data-quality/feeds/customers%3Aerp",
        data={"_csrf": csrf_of(own.text), "staleness_hours": "5"},
    )
    assert posted.status_code == 404
    async with tenant_session(loaded) as s:
        feed = await s.scalar(select(Feed).where(Feed.name == "customers:erp"))
    assert feed is not None and feed.staleness_hours == 24


async def test_json_endpoint(
    client: httpx.AsyncClient, loaded: TenantRef, make_staff: StaffFactory
) -> None:
    assert (await client.get("/api/v1/data-quality")).status_code == 401
    await as_user(client, await make_staff(loaded, "auditor"))
    response = await client.get("/api/v1/data-quality")
    assert response.status_code == 200
    data = response.json()
    assert data["order_lines"] == 7 and data["scoped"] is False and data["stale_feeds"] == 0
    assert [f["name"] for f in data["feeds"]] == [
        "customers:erp",
        "products:erp",
        "order_lines:erp",
    ]
    assert {f["status"] for f in data["feeds"]} == {"fresh"}
    implausible = {f["key"]: f for f in data["implausible"]}
    assert implausible["unreadable"]["count"] == 1
    assert implausible["unreadable"]["examples"] == [
        {"key": "O3/1", "customer_code": "C3", "sku": "S3"}
    ]
    missing = {(f["entity"], f["key"]): f for f in data["missing_attributes"]}
    assert missing[("customers", "region")]["count"] == 2
    assert missing[("customers", "region")]["share"] == 0.5
    # Nothing in the answer is a money amount: only counts, shares and keys.
    assert "revenue" not in {k for f in data["implausible"] for k in f}


async def test_regional_analyst_sees_own_scope_in_json(
    client: httpx.AsyncClient, loaded: TenantRef, make_staff: StaffFactory
) -> None:
    await as_user(client, await make_staff(loaded, "analyst", scope="amer"))
    data = (await client.get("/api/v1/data-quality")).json()
    assert data["scoped"] is True and data["order_lines"] == 1
    missing = {(f["entity"], f["key"]): f for f in data["missing_attributes"]}
    assert missing[("customers", "country")]["checked"] == 1
    assert missing[("customers", "country")]["examples"][0]["key"] == "C3"


async def test_nav_entry_for_readers_only(
    app: Any, loaded: TenantRef, make_staff: StaffFactory
) -> None:
    async with http_client(app) as client:
        await as_user(client, await make_staff(loaded, "analyst"))
        home = await client.get(f"/t/{loaded.slug}/")
        assert f'href="/t/{loaded.slug}/data-quality"' in home.text
    async with http_client(app) as client:
        await as_user(client, await make_staff(loaded, "account_manager"))
        home = await client.get(f"/t/{loaded.slug}/")
        assert f'href="/t/{loaded.slug}/data-quality"' not in home.text
        assert (await client.get(f"/t/{loaded.slug}/data-quality")).status_code == 403
