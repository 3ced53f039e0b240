"""Pricing differentiation within contracts: the arithmetic by hand, and the gate: a term or a
clause that would breach a contract is refused with nothing saved; a move or an entitlement
change that would breach one is held like a contract-minimum conflict."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from tests.analytics.conftest import SCHEME
from tests.conftest import StaffFactory
from tests.support.web import csrf_of, sign_in
from tierline.analytics.models import ServicePriceTerm
from tierline.analytics.pricing.rules import (
    PriceClause,
    PriceTerm,
    breaches,
    net_adjustment,
    percent,
)
from tierline.analytics.pricing.store import (
    PriceClauseIn,
    PriceTermIn,
    PricingRefused,
    save_clause,
    save_term,
)
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.service_levels.entitlements import validate_entitlement
from tierline.service_levels.service import (
    ContractInput,
    DeliveryWindow,
    EntitlementInput,
    contract_conflicts,
    save_contract,
)

ACTOR = Actor("pricing@example.com")
DAY = date(2026, 6, 1)
START = date(2025, 1, 1)


def _term(segment: str | None, feature: str | None, bp: int, end: date | None = None) -> PriceTerm:
    return PriceTerm(None, "s", segment, feature, bp, START, end)


def test_net_adjustment_adds_the_segment_and_its_features_in_force() -> None:
    terms = [_term("A", None, 250), _term(None, "delivery_window", -75), _term("B", None, 90),
             _term("A", None, 500, end=date(2026, 1, 1))]  # fmt: skip
    assert net_adjustment(terms, "s", "A", frozenset({"delivery_window"}), DAY) == 175
    assert net_adjustment(terms, "s", "A", frozenset(), DAY) == 250
    assert net_adjustment(terms, "s", "A", frozenset(), date(2025, 6, 1)) == 750
    assert net_adjustment(terms, "other", "A", frozenset(), DAY) == 0


def test_breaches_of_a_cap_and_of_a_guaranteed_discount() -> None:
    clause = PriceClause("C1", "K-1", max_surcharge_bp=100, min_discount_bp=None)
    assert breaches(clause, 100, "A") == []
    assert breaches(clause, 101, "A") == [
        "A carries a net service surcharge of 1.01%; contract K-1 allows at most 1.00%"
    ]
    guaranteed = PriceClause("C1", "K-1", max_surcharge_bp=None, min_discount_bp=200)
    assert breaches(guaranteed, -200, "B") == []
    assert breaches(guaranteed, -150, "B") == [
        "B gives a net discount of 1.50%; contract K-1 guarantees 2.00%"
    ]
    assert breaches(guaranteed, 50, "B") == ["B gives no discount; contract K-1 guarantees 2.00%"]
    assert (percent(5), percent(-1234), percent(10_000)) == ("0.05%", "-12.34%", "100.00%")


async def _contract(runtime: Runtime, tenant: TenantRef) -> None:
    async with tenant_session(tenant, runtime.databases) as s:
        await save_contract(
            s,
            ContractInput(customer_code="C2", reference="K-C2", valid_from=START),
            ACTOR,
        )
        await save_clause(
            s,
            PriceClauseIn(customer_code="C2", contract_reference="K-C2", max_surcharge_bp=100),
            ACTOR,
        )


async def _terms(runtime: Runtime, tenant: TenantRef) -> int:
    async with tenant_session(tenant, runtime.databases) as s:
        return int(await s.scalar(select(func.count()).select_from(ServicePriceTerm)) or 0)


async def test_a_move_that_would_breach_the_pricing_clause_is_a_contract_conflict(
    runtime: Runtime, commercial: TenantRef
) -> None:
    await _contract(runtime, commercial)
    async with tenant_session(commercial, runtime.databases) as s:
        await save_term(
            s,
            PriceTermIn(scheme_code=SCHEME, segment="A", adjustment_bp=250, valid_from=START),
            ACTOR,
        )
        conflicts = await contract_conflicts(s, "C2", SCHEME, "A", date.today())
        assert conflicts == [
            "pricing: A carries a net service surcharge of 2.50%; contract K-C2 allows at most 1.00%"
        ]
        assert await contract_conflicts(s, "C2", SCHEME, "C", date.today()) == []


async def test_a_term_or_clause_breaching_a_contract_is_refused_and_nothing_saved(
    runtime: Runtime, commercial: TenantRef
) -> None:
    await _contract(runtime, commercial)
    before = await _terms(runtime, commercial)
    with pytest.raises(PricingRefused, match=r"C2: B carries a net service surcharge of 1\.50%"):
        async with tenant_session(commercial, runtime.databases) as s:
            await save_term(
                s,
                PriceTermIn(scheme_code=SCHEME, segment="B", adjustment_bp=150, valid_from=START),
                ACTOR,
            )
    assert await _terms(runtime, commercial) == before
    async with tenant_session(commercial, runtime.databases) as s:
        await save_term(
            s,
            PriceTermIn(scheme_code=SCHEME, segment="A", adjustment_bp=50, valid_from=START),
            ACTOR,
        )
    # The scheme now prices service; C2's segment B gives no discount at all.
    with pytest.raises(
        PricingRefused, match=r"B gives no discount; contract K-C2 guarantees 2\.00%"
    ):
        async with tenant_session(commercial, runtime.databases) as s:
            await save_clause(
                s,
                PriceClauseIn(customer_code="C2", contract_reference="K-C2", min_discount_bp=200),
                ACTOR,
            )
    with pytest.raises(PricingRefused, match="not the contract of C1"):
        async with tenant_session(commercial, runtime.databases) as s:
            await save_clause(
                s,
                PriceClauseIn(customer_code="C1", contract_reference="K-C2", max_surcharge_bp=5),
                ACTOR,
            )
    for bad, text in (
        (PriceTermIn(scheme_code=SCHEME, segment="Z", adjustment_bp=1, valid_from=START), "not a segment"),
        (PriceTermIn(scheme_code=SCHEME, segment="A", feature="delivery_window", adjustment_bp=1, valid_from=START), "not both"),
        (PriceTermIn(scheme_code=SCHEME, feature="teleport", adjustment_bp=1, valid_from=START), "unknown feature"),
        (PriceTermIn(scheme_code="nope", segment="A", adjustment_bp=1, valid_from=START), "no customer scheme"),
    ):  # fmt: skip
        with pytest.raises(PricingRefused, match=text):
            async with tenant_session(commercial, runtime.databases) as s:
                await save_term(s, bad, ACTOR)


async def test_an_entitlement_change_adding_a_surcharged_feature_is_refused(
    runtime: Runtime, commercial: TenantRef
) -> None:
    await _contract(runtime, commercial)
    async with tenant_session(commercial, runtime.databases) as s:
        # B promises no delivery window yet: a surcharge on the feature touches nobody.
        await save_term(
            s,
            PriceTermIn(
                scheme_code=SCHEME, feature="delivery_window", adjustment_bp=300, valid_from=START
            ),
            ACTOR,
        )
        promise = {
            "effective_from": date.today(), "fill_rate_target": 0.9, "otif_target": 0.9,
            "perfect_order_target": 0.8, "cycle_service_level": 0.9, "quoted_lead_time_days": 3,
            "allocation_priority": 2, "picking_priority": 2,
        }  # fmt: skip
        assert await validate_entitlement(s, SCHEME, "B", EntitlementInput(**promise)) == []
        windows = [DeliveryWindow(["mon"], "08:00", "12:00")]
        errors = await validate_entitlement(
            s, SCHEME, "B", EntitlementInput(**promise, delivery_windows=windows)
        )
    assert [e.field for e in errors] == ["contract"]
    assert "C2 (pricing: B carries a net service surcharge of 3.00%" in errors[0].message


async def test_pricing_api_and_page(
    client: httpx.AsyncClient, runtime: Runtime, commercial: TenantRef, make_staff: StaffFactory
) -> None:
    await _contract(runtime, commercial)
    assert (await sign_in(client, await make_staff(commercial, "planner"))).status_code == 303
    page = await client.get(f"/t/{commercial.slug}/analytics/pricing")
    assert page.status_code == 200 and "K-C2" in page.text and "1.00%" in page.text
    headers = {"X-CSRF-Token": csrf_of(page.text)}
    refused = await client.post(
        "/api/v1/analytics/price-terms",
        json={
            "scheme_code": SCHEME,
            "segment": "B",
            "adjustment_bp": 150,
            "valid_from": "2025-01-01",
        },
        headers=headers,
    )
    assert refused.status_code == 422 and "nothing was saved" in refused.json()["detail"]
    made = await client.post(
        "/api/v1/analytics/price-terms",
        json={
            "scheme_code": SCHEME,
            "segment": "A",
            "adjustment_bp": -80,
            "valid_from": "2025-01-01",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    listed = (await client.get("/api/v1/analytics/price-terms")).json()
    assert [t["adjustment_bp"] for t in listed["items"]] == [-80]
    form = await client.post(
        f"/t/{commercial.slug}/analytics/pricing",
        data={"_csrf": headers["X-CSRF-Token"], "form": "term", "scheme_code": SCHEME,
              "target": "segment:B", "adjustment_bp": "400", "valid_from": "2025-01-01"},
    )  # fmt: skip
    assert form.status_code == 422 and "Not saved" in form.text
    assert (await sign_in(client, await make_staff(commercial, "analyst"))).status_code == 303
    forbidden = await client.post(
        "/api/v1/analytics/price-terms",
        json={
            "scheme_code": SCHEME,
            "segment": "C",
            "adjustment_bp": 1,
            "valid_from": "2025-01-01",
        },
        headers=headers,
    )
    assert forbidden.status_code in (403, 401)
