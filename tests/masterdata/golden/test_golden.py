"""Golden records: matching, survivorship, new records, the review queue and the steward pages.

Data goes in through the real import pipeline: ERP first (it owns golden rows), then finance
and sales exports, which only reconcile.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import httpx
import polars as pl
import pytest
from sqlalchemy import func, select

from tests.conftest import StaffFactory, TenantFactory, csrf_of, sign_in
from tierline.masterdata.golden import controllers as steward
from tierline.masterdata.golden.matching import match_records, plan_new_codes
from tierline.masterdata.golden.models import MatchReview
from tierline.masterdata.golden.normalise import (
    normalise_duns,
    normalise_gtin,
    normalise_name,
    normalise_tax_id,
)
from tierline.masterdata.golden.reconcile import ReconcileSummary, reconcile
from tierline.masterdata.golden.rules import CUSTOMER_RULES
from tierline.masterdata.golden.survivorship import survive
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Customer, CustomerSource, Product, ProductSource
from tierline.masterdata.profiles.presets import presets
from tierline.platform.audit.models import AuditLog
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_connection, tenant_session

HEADER = "code,name,account_type,region,country,postal_code,channel,crm_tier,tax_id,duns\n"
ERP = (
    HEADER
    + """C100,Acme Industries GmbH,sold_to,emea,DE,10115,retail,,DE 123 456 789,
C200,Bäckerei Müller AG,sold_to,emea,DE,80331,retail,silver,,
C300,Nordic Trading AB,sold_to,emea,SE,11122,distributor,,,
C400,Globex Corporation,sold_to,amer,US,10001,wholesale,,,
C500,Initech,sold_to,amer,US,30301,retail,,,
C501,Initech,sold_to,amer,US,30302,retail,,,
C600,Umbrella Holdings,sold_to,amer,US,60601,retail,,US-77,
C700,Wayne Enterprises,sold_to,amer,US,07001,retail,,,12345678
"""
)
# F1: C100's tax id spelled differently, a sure match; finance owns the legal name.
# F2: C700's DUNS with the leading zero the ERP export lost, a sure match too.
FINANCE = (
    HEADER
    + """F1,ACME Industries Holding GmbH,sold_to,,DE,,,,de123456789,
F2,Wayne Ent.,sold_to,,US,,,,,01-234-5678
"""
)
# S1: name (umlauts, legal form, punctuation aside), postal code and country: C200.
# S2: same name and country, another postal code: ambiguous.
# S3: nothing like it: a new golden record under its source key.
# C100: nothing like it, but its key is taken by a golden record: SALES-C100.
# S5: same name and country, no postal code: ambiguous.
# S6: two golden records with that name: two reviews.
# S7: C600's name, postal code and country but another tax id: another company.
SALES = (
    HEADER
    + """S1,"Backerei Muller, A.G.",sold_to,emea,DE,80331,online,gold,,
S2,Nordic Trading,sold_to,emea,SE,99999,online,gold,,
S3,Brand New Co,sold_to,emea,FR,75001,online,,,
C100,Zeta Ltd,sold_to,amer,US,94105,online,,,
S5,Globex Corp.,sold_to,amer,US,,online,,,
S6,Initech Inc,sold_to,amer,US,30303,online,,,
S7,Umbrella Holdings,sold_to,amer,US,60601,online,,US-88,
"""
)


def frame(csv: str) -> pl.DataFrame:
    """All text, as a file would arrive, with the time the source last changed each row."""
    data = pl.read_csv(io.StringIO(csv), infer_schema=False)
    return data.with_columns(pl.lit("2026-01-10T08:00:00+00:00").alias("source_updated_at"))


async def load(
    runtime: Runtime, tenant: TenantRef, csv: str, source: str, entity: str = "customers"
) -> None:
    profile = dataclasses.replace(presets()[f"generic_{entity}"], source_system=source)
    result = await run_import(runtime, tenant, entity, frame(csv), profile, SYSTEM)
    assert result.status == "applied", result.errors


async def seed(runtime: Runtime, tenant: TenantRef) -> None:
    await load(runtime, tenant, ERP, "erp")
    await load(runtime, tenant, FINANCE, "finance")
    await load(runtime, tenant, SALES, "sales")


async def goldens(tenant: TenantRef) -> dict[str, Customer]:
    async with tenant_session(tenant) as s:
        return {c.code: c for c in (await s.execute(select(Customer))).scalars()}


async def links(tenant: TenantRef, system: str) -> dict[str, str | None]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(
            select(CustomerSource.source_key, CustomerSource.customer_code).where(
                CustomerSource.source_system == system
            )
        )
        return {k: c for k, c in rows}


async def reviews(tenant: TenantRef) -> list[MatchReview]:
    async with tenant_session(tenant) as s:
        return list(
            (
                await s.execute(
                    select(MatchReview).order_by(MatchReview.source_key, MatchReview.candidate_code)
                )
            ).scalars()
        )


async def review_id(tenant: TenantRef, key: str, candidate: str) -> int:
    return next(
        r.id for r in await reviews(tenant) if (r.source_key, r.candidate_code) == (key, candidate)
    )


async def audit(tenant: TenantRef, action: str) -> list[AuditLog]:
    async with tenant_session(tenant) as s:
        return list(
            (
                await s.execute(
                    select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.seq)
                )
            ).scalars()
        )


# --- pure functions ----------------------------------------------------------------------


def test_normalisation_of_names_and_identifiers() -> None:
    names = pl.Series(
        [
            "Bäckerei Müller GmbH & Co. KG",
            "BACKEREI MULLER",
            "S.A.R.L. Café-Crème",
            "The Coca-Cola Company",
            "GmbH",
            None,
        ]
    )
    out = pl.select(normalise_name(pl.lit(names))).to_series().to_list()
    assert out == ["backerei muller", "backerei muller", "cafe creme", "coca cola", None, None]
    ids = pl.DataFrame(
        {
            "tax": ["de 123.456-789", " ", None],
            "duns": ["12-345-678", "", None],
            "gtin": ["4006381333931", "123", None],
        }
    )
    got = ids.select(
        normalise_tax_id(pl.col("tax")),
        normalise_duns(pl.col("duns")),
        normalise_gtin(pl.col("gtin")),
    ).rows()
    assert got == [
        ("DE123456789", "012345678", "04006381333931"),
        (None, None, None),
        (None, None, None),
    ]


def test_survivorship_follows_priority_then_recency() -> None:
    attributes = {
        "name": ("finance", "erp", "*"),
        "channel": ("sales", "erp", "*"),
        "parent_code": ("erp",),
    }
    records = pl.DataFrame(
        {
            "code": ["G", "G", "G", "G"],
            "source_system": ["erp", "finance", "sales", "logistics"],
            "updated": [4.0, 1.0, 2.0, 3.0],
            "received": [1.0, 1.0, 1.0, 1.0],
            "name": ["Erp name", "Legal name", "Sales name", None],
            "channel": ["retail", None, "", "web"],  # sales sent nothing: erp ranks next
            "parent_code": [None, None, "P9", None],  # only the ERP may set the hierarchy
        }
    )
    won = survive(records, attributes).row(0, named=True)
    assert won == {"code": "G", "name": "Legal name", "channel": "retail", "parent_code": None}
    newer = records.with_columns(pl.Series("source_system", ["erp", "a", "b", "c"]))
    won = survive(newer, {"name": ("*",)}).row(0, named=True)
    assert won["name"] == "Erp name"  # same rank: the most recent source_updated_at wins


def test_identifier_conflict_vetoes_a_name_match_and_batches_are_deduplicated() -> None:
    cols = ["key", "name", "grp", "detail", "id_tax", "id_duns"]
    gold = pl.DataFrame([("G1", "Umbrella", "US", "1", "US-77", None)], schema=cols, orient="row")
    src = pl.DataFrame(
        [
            ("A", "Umbrella Inc", "US", "1", "US88", None),
            ("B", "New One", "FR", "2", None, None),
            ("C", "New One SA", "FR", "2", None, None),
        ],
        schema=cols,
        orient="row",
    )
    result = match_records(src, gold, CUSTOMER_RULES)
    assert result.links.is_empty() and result.reviews.is_empty()
    plan = plan_new_codes(result.unmatched, pl.Series(["A"]), "sales", CUSTOMER_RULES)
    assert sorted(plan.rows()) == [("A", "A", "SALES-A"), ("B", "B", "B"), ("C", "B", "B")]


# --- reconcile through the import pipeline --------------------------------------------------


async def test_reconcile_matches_survives_creates_and_queues(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await seed(runtime, tenant)
    rows = await goldens(tenant)
    # Exact tax id: linked, and the legal name comes from finance.
    assert (await links(tenant, "finance")) == {"F1": "C100", "F2": "C700"}
    assert rows["C100"].name == "ACME Industries Holding GmbH"
    assert rows["C100"].channel == "retail" and rows["C100"].postal_code == "10115"  # kept
    assert rows["C700"].name == "Wayne Ent." and rows["C700"].duns == "01-234-5678"
    # Name + postal code + country: linked; the CRM's tier and channel win, ERP keeps the name.
    sales = await links(tenant, "sales")
    assert sales["S1"] == "C200"
    assert (rows["C200"].name, rows["C200"].crm_tier, rows["C200"].channel) == (
        "Bäckerei Müller AG",
        "gold",
        "online",
    )
    # No match: new golden records, under the source key or SALES-<key> when that is taken.
    assert sales["S3"] == "S3" and rows["S3"].name == "Brand New Co" and rows["S3"].scope == "emea"
    assert sales["C100"] == "SALES-C100" and rows["SALES-C100"].name == "Zeta Ltd"
    assert rows["C100"].name != "Zeta Ltd"
    assert sales["S7"] == "S7"  # another tax id: not C600, however alike the names
    # Ambiguous: unlinked, queued with reasons.
    assert sales["S2"] is None and sales["S5"] is None and sales["S6"] is None
    queued = {
        (r.source_key, r.candidate_code): (r.score, r.reasons, r.status)
        for r in await reviews(tenant)
    }
    assert queued == {
        ("S2", "C300"): (0.7, ["same name", "same country", "postal code differs"], "open"),
        ("S5", "C400"): (0.7, ["same name", "same country", "postal code missing"], "open"),
        ("S6", "C500"): (0.7, ["same name", "same country", "postal code differs"], "open"),
        ("S6", "C501"): (0.7, ["same name", "same country", "postal code differs"], "open"),
    }


async def test_rerunning_a_source_import_is_idempotent(runtime: Runtime, tenant: TenantRef) -> None:
    await seed(runtime, tenant)
    before = await goldens(tenant)
    stamps = {code: row.updated_at for code, row in before.items()}
    queued = len(await reviews(tenant))
    await load(runtime, tenant, SALES, "sales")
    await load(runtime, tenant, FINANCE, "finance")
    after = await goldens(tenant)
    assert sorted(after) == sorted(before)
    assert {code: row.updated_at for code, row in after.items()} == stamps  # nothing rewritten
    assert len(await reviews(tenant)) == queued
    async with tenant_connection(tenant, runtime.databases) as conn:
        summary = await reconcile(conn, "customers", "sales")
    assert summary == ReconcileSummary(matched=0, created=0, queued=3, updated=0)


async def test_a_changed_source_record_is_survived_again(
    runtime: Runtime, tenant: TenantRef
) -> None:
    await seed(runtime, tenant)
    await load(runtime, tenant, SALES.replace("online,gold", "online,platinum", 1), "sales")
    assert (await goldens(tenant))["C200"].crm_tier == "platinum"


async def test_products_match_on_gtin_and_on_description_with_category(
    runtime: Runtime, tenant: TenantRef
) -> None:
    head = "sku,description,category,base_uom,gtin\n"
    erp = head + "P1,Olive oil 1L,oils,EA,4006381333931\nP2,Sunflower oil 5 L,oils,EA,\n"
    # X1: the same GTIN written as GTIN-14 with spaces; X2: description and category;
    # X3: the description only (ambiguous); X4: nothing alike (new).
    pim = head + (
        '"X1","Extra virgin olive oil, 1 l",oils-premium,EA,0 4006381 33393 1\n'
        "X2,Sunflower Oil 5L,oils,EA,\n"
        "X3,Sunflower oil 5 L,food,EA,\n"
        "X4,Rapeseed oil,oils,EA,\n"
    )
    await load(runtime, tenant, erp, "erp", "products")
    await load(runtime, tenant, pim, "pim", "products")
    async with tenant_session(tenant) as s:
        linked = dict(
            (
                await s.execute(
                    select(ProductSource.source_key, ProductSource.sku).where(
                        ProductSource.source_system == "pim"
                    )
                )
            ).all()
        )
        products = {p.sku: p for p in (await s.execute(select(Product))).scalars()}
    assert linked == {"X1": "P1", "X2": "P2", "X3": None, "X4": "X4"}
    assert products["P1"].description == "Extra virgin olive oil, 1 l"  # the PIM owns texts
    assert products["P1"].category == "oils-premium"
    assert products["X4"].description == "Rapeseed oil"
    queued = [(r.entity, r.source_key, r.candidate_code, r.reasons) for r in await reviews(tenant)]
    assert queued == [("product", "X3", "P2", ["same description", "category differs"])]


# --- the steward pages ----------------------------------------------------------------------


async def as_user(client: httpx.AsyncClient, staff: Any) -> str:
    response = await sign_in(client, staff)
    assert response.status_code == 303, response.text
    page = await client.get(f"/t/{staff.tenant.slug}/steward")
    return csrf_of(page.text) if page.status_code == 200 else ""


async def test_steward_merges_and_keeps_apart_through_the_pages(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory, client: httpx.AsyncClient
) -> None:
    await seed(runtime, tenant)
    staff = await make_staff(tenant, "data_steward")
    token = await as_user(client, staff)
    page = await client.get(f"/t/{tenant.slug}/steward")
    assert page.status_code == 200
    html = page.text
    assert "4 open reviews" in html and 'class="steward-diff"' in html
    assert (
        "postal code differs" in html
        and "postal code missing" in html
        and "Nordic Trading AB" in html
    )
    assert f'<a href="/t/{tenant.slug}/steward">Data steward</a>' in html  # the menu entry
    assert (
        "Nordic Trading"
        in (await client.get(f"/t/{tenant.slug}/steward?entity=customer&source=sales")).text
    )
    assert "0 open reviews" in (await client.get(f"/t/{tenant.slug}/steward?source=finance")).text

    merge_id = await review_id(tenant, "S2", "C300")
    done = await client.post(
        f"/t/{tenant.slug}/steward/{merge_id}/merge",
        data={"_csrf": token, "reason": "same VAT on the invoice"},
    )
    assert done.status_code == 303 and "Merged" in done.headers["location"]
    assert (await links(tenant, "sales"))["S2"] == "C300"
    rows = await goldens(tenant)
    assert (
        rows["C300"].crm_tier == "gold" and rows["C300"].postal_code == "11122"
    )  # survivorship ran
    merged = next(r for r in await reviews(tenant) if r.id == merge_id)
    assert (merged.status, merged.decided_by) == ("merged", staff.email) and merged.decided_at
    entries = await audit(tenant, "golden.merge")
    assert [(e.actor, e.object_type, e.object_id, e.reason) for e in entries] == [
        (staff.email, "customer", "C300", "same VAT on the invoice")
    ]
    assert (
        entries[0].before["golden"]["crm_tier"] is None
        and entries[0].after["golden"]["crm_tier"] == "gold"
    )

    # Decided already: refused with a message, nothing changes.
    again = await client.post(
        f"/t/{tenant.slug}/steward/{merge_id}/keep-apart", data={"_csrf": token}
    )
    assert again.status_code == 409 and "already decided" in again.text
    assert (
        len(await goldens(tenant)) == len(rows)
        and len(await audit(tenant, "golden.keep_apart")) == 0
    )

    apart_id = await review_id(tenant, "S5", "C400")
    kept = await client.post(
        f"/t/{tenant.slug}/steward/{apart_id}/keep-apart",
        data={"_csrf": token, "reason": "a different Globex"},
    )
    assert kept.status_code == 303
    assert (await links(tenant, "sales"))["S5"] == "S5"
    assert (await goldens(tenant))["S5"].name == "Globex Corp."
    [entry] = await audit(tenant, "golden.keep_apart")
    assert (entry.object_id, entry.reason, entry.before) == (
        "S5",
        "a different Globex",
        {"golden": None},
    )

    # Merging one of two candidates closes the other: the record cannot be both.
    initech = await review_id(tenant, "S6", "C501")
    assert (
        await client.post(f"/t/{tenant.slug}/steward/{initech}/merge", data={"_csrf": token})
    ).status_code == 303
    status = {(r.source_key, r.candidate_code): r.status for r in await reviews(tenant)}
    assert status[("S6", "C501")] == "merged" and status[("S6", "C500")] == "kept_apart"
    assert "0 open reviews" in (await client.get(f"/t/{tenant.slug}/steward")).text

    # A later run of the same import neither re-queues nor re-creates anything.
    count = len(await goldens(tenant))
    await load(runtime, tenant, SALES, "sales")
    assert len(await goldens(tenant)) == count and all(
        r.status != "open" for r in await reviews(tenant)
    )


async def test_steward_pages_refuse_other_roles_tenants_and_forged_posts(
    runtime: Runtime,
    tenant: TenantRef,
    make_tenant: TenantFactory,
    make_staff: StaffFactory,
    client: httpx.AsyncClient,
) -> None:
    await seed(runtime, tenant)
    target = await review_id(tenant, "S2", "C300")
    analyst = await make_staff(tenant, "analyst")
    await as_user(client, analyst)
    assert (await client.get(f"/t/{tenant.slug}/steward")).status_code == 403
    home = await client.get(f"/t/{tenant.slug}/")
    token = csrf_of(home.text)
    assert (
        await client.post(f"/t/{tenant.slug}/steward/{target}/merge", data={"_csrf": token})
    ).status_code == 403

    other = await make_tenant()
    outsider = await make_staff(other, "data_steward")
    await as_user(client, outsider)
    assert (await client.get(f"/t/{tenant.slug}/steward")).status_code == 404
    own = await client.get(f"/t/{other.slug}/steward")
    assert own.status_code == 200 and "0 open reviews" in own.text
    forged = await client.post(
        f"/t/{tenant.slug}/steward/{target}/merge", data={"_csrf": csrf_of(own.text)}
    )
    assert forged.status_code == 404
    # A review id of another tenant does not exist here either.
    assert (
        await client.post(
            f"/t/{other.slug}/steward/{target}/merge", data={"_csrf": csrf_of(own.text)}
        )
    ).status_code == 404

    steward_user = await make_staff(tenant, "data_steward")
    await as_user(client, steward_user)
    no_token = await client.post(f"/t/{tenant.slug}/steward/{target}/merge", data={"reason": "x"})
    assert no_token.status_code == 403
    assert all(r.status == "open" for r in await reviews(tenant))
    assert (await links(tenant, "sales"))["S2"] is None


async def test_regional_steward_sees_only_reviews_in_scope(
    runtime: Runtime, tenant: TenantRef, make_staff: StaffFactory, client: httpx.AsyncClient
) -> None:
    await seed(runtime, tenant)
    await as_user(client, await make_staff(tenant, "data_steward", scope="emea"))
    page = await client.get(f"/t/{tenant.slug}/steward")
    assert (
        "1 open review" in page.text
        and "Nordic Trading AB" in page.text
        and "Initech" not in page.text
    )
    outside = await review_id(tenant, "S6", "C500")
    response = await client.post(
        f"/t/{tenant.slug}/steward/{outside}/merge", data={"_csrf": csrf_of(page.text)}
    )
    assert response.status_code == 404


async def test_queue_pages(
    runtime: Runtime,
    tenant: TenantRef,
    make_staff: StaffFactory,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(runtime, tenant)
    monkeypatch.setattr(steward, "PAGE_SIZE", 3)
    await as_user(client, await make_staff(tenant, "data_steward"))
    first = await client.get(f"/t/{tenant.slug}/steward")
    assert "page 1 of 2" in first.text and 'rel="next"' in first.text
    second = await client.get(f"/t/{tenant.slug}/steward?page=2")
    assert (
        "page 2 of 2" in second.text
        and 'rel="prev"' in second.text
        and second.text.count("steward-review") == 1
    )
    assert (await client.get(f"/t/{tenant.slug}/steward?page=x&entity=nonsense")).status_code == 200
    async with tenant_session(tenant) as s:
        assert await s.scalar(select(func.count()).select_from(MatchReview)) == 4


async def test_an_erp_reload_keeps_what_other_sources_won(runtime, tenant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Finance owns the legal name: reloading the ERP file must not put the ERP spelling back."""
    import dataclasses

    import polars as pl
    from sqlalchemy import select

    from tierline.masterdata.importing.service import run_import
    from tierline.masterdata.models import Customer
    from tierline.masterdata.profiles.presets import presets
    from tierline.platform.identity.users import SYSTEM
    from tierline.platform.tenancy import tenant_session

    erp = pl.DataFrame(
        {
            "code": ["C1"],
            "name": ["ACME GMBH"],
            "account_type": ["sold_to"],
            "tax_id": ["DE999"],
            "country": ["DE"],
        }
    )
    finance = pl.DataFrame(
        {
            "code": ["F-1"],
            "name": ["Acme Industrial GmbH"],
            "account_type": ["sold_to"],
            "tax_id": ["DE999"],
            "country": ["DE"],
        }
    )
    generic = presets()["generic_customers"]
    assert (
        await run_import(runtime, tenant, "customers", erp, generic, SYSTEM)
    ).status == "applied"
    fin = dataclasses.replace(generic, source_system="finance")
    assert (
        await run_import(runtime, tenant, "customers", finance, fin, SYSTEM)
    ).status == "applied"
    changed_erp = erp.with_columns(pl.lit("retail").alias("channel"))
    assert (
        await run_import(runtime, tenant, "customers", changed_erp, generic, SYSTEM)
    ).status == "applied"
    async with tenant_session(tenant) as s:
        golden = (await s.execute(select(Customer).where(Customer.code == "C1"))).scalar_one()
    assert golden.name == "Acme Industrial GmbH" and golden.channel == "retail"
