"""What a customer reads: only the customer-facing entitlements (fill rate, OTIF, perfect order,
quoted lead time, delivery windows), with human labels, units and windows written as people
write them, worded the same on every page, in the API, the CSV, the PDF and the notices; no
internal setting, field name or Python representation anywhere."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import StaffFactory, TenantFactory
from tests.portal.fixtures import SCHEME, PortalData, build_portal_tenant
from tests.portal.pdf_text import pdf_text
from tests.portal.test_portal import portal_sign_in
from tierline.governance import overrides
from tierline.governance.checks import ApproverRights
from tierline.masterdata.models import Customer
from tierline.platform.identity.users import Actor
from tierline.platform.tenancy import tenant_session
from tierline.service_levels.service import customer_entitlements

EN = "\u2013"  # en dash
A_ITEMS = [
    {"key": "fill_rate", "label": "Fill rate", "value": 98.0, "unit": "%", "text": "98%"},
    {"key": "otif", "label": "On time in full (OTIF)", "value": 97.0, "unit": "%", "text": "97%"},
    {"key": "perfect_order", "label": "Perfect order", "value": 95.0, "unit": "%", "text": "95%"},
    {
        "key": "quoted_lead_time_days",
        "label": "Quoted lead time",
        "value": 2,
        "unit": "days",
        "text": "2 days",
    },
    {
        "key": "delivery_windows",
        "label": "Delivery windows",
        "value": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"},
            {"days": ["sat"], "from": "08:00", "to": "12:00"},
        ],
        "unit": None,
        "text": f"Mon{EN}Fri 08:00{EN}18:00; Sat 08:00{EN}12:00",
    },
]
# Nothing internal, no field name, no Python representation. Checked case-insensitively.
FORBIDDEN = (
    "pct",
    "otif pct",
    "cycle service",
    "cycle_service",
    "allocation",
    "picking",
    "min share",
    "min_share",
    "transport",
    "dedicated carrier",
    "consolidated ltl",
    "taxonomy",
    "global-a",
    "global-b",
    "quoted_lead",
    "delivery_windows",
    "fill_rate",
    "perfect_order",
    "{'",
    "['",
    "': ",
    "none",
)
# A JSON body names the customer-facing entitlements by key (for programs) and has nulls.
KEYS = ("fill_rate", "perfect_order", "quoted_lead", "delivery_windows", "none")
JSON_FORBIDDEN = tuple(f for f in FORBIDDEN if f not in KEYS)


def _no_internals(where: str, text: str, forbidden: tuple[str, ...] = FORBIDDEN) -> None:
    lowered = text.lower()
    for word in forbidden:
        assert word not in lowered, (where, word, _around(lowered, word))


def _around(text: str, word: str) -> str:
    at = text.find(word)
    return text[max(0, at - 80) : at + 80]


def _visible(html: str) -> str:
    """The text of a page as a reader gets it (attributes and markup dropped)."""
    body = html.split("<body", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_the_one_wording() -> None:
    lines = customer_entitlements(
        {
            "fill_rate": 97.5,
            "quoted_lead_time_days": 1,
            "delivery_windows": [
                {"days": ["mon", "wed", "fri"], "from": "07:00", "to": "15:30"},
                {"days": ["sat", "sun"], "from": "09:00", "to": "12:00"},
                {"bad": "window"},
            ],
            "cycle_service_level": 95.0,
            "allocation_min_share_pct": 20.0,
        }
    )
    assert [(line.label, line.text) for line in lines] == [
        ("Fill rate", "97.5%"),
        ("Quoted lead time", "1 day"),
        ("Delivery windows", f"Mon, Wed, Fri 07:00{EN}15:30; Sat, Sun 09:00{EN}12:00"),
    ]
    # entitlements stored by an earlier release (notices keep what they were written with)
    earlier = customer_entitlements({"fill_rate_pct": 95.0, "allocation_min_share_pct": 0.0})
    assert [(line.label, line.text) for line in earlier] == [("Fill rate", "95%")]


@pytest.fixture
async def portal(make_tenant: TenantFactory) -> PortalData:
    data = await build_portal_tenant(await make_tenant(name="Acme Supply"))
    # P1 moves A -> B by an approved override: a notice written by the real path
    async with tenant_session(data.tenant) as s:
        made = await overrides.request_override(
            s,
            Actor("am.portal@example.com"),
            SCHEME,
            "P1",
            "B",
            "temporary volume drop",
            [],
            data.today + timedelta(days=30),
        )
        made_id = made.id
    async with tenant_session(data.tenant) as s:
        await overrides.decide_override(
            s,
            made_id,
            "approve",
            Actor("board.portal@example.com"),
            "agreed",
            rights=ApproverRights.everywhere(),
        )
    return data


async def test_customer_reads_the_same_words_everywhere(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    async with tenant_session(portal.tenant) as s:
        await s.execute(
            update(Customer).where(Customer.code == "P1").values(name="Zakłady Mięsne Łódź")
        )
    user = await make_staff(portal.tenant, "customer", customer="P1")
    assert (await portal_sign_in(client, portal.tenant, user.email, user.password)).is_redirect
    slug = portal.tenant.slug

    # the API: worded items, nothing else (S1 is in B)
    api = (await client.get("/api/v1/portal/entitlements", params={"account": "P1"})).json()
    (segment,) = api["segments"]
    assert segment["segment"] == "B"
    b_items = segment["entitlements"]["items"]
    assert [(i["label"], i["text"]) for i in b_items] == [
        ("Fill rate", "95%"),
        ("On time in full (OTIF)", "92%"),
        ("Perfect order", "90%"),
        ("Quoted lead time", "4 days"),
        ("Delivery windows", f"Mon{EN}Fri 08:00{EN}16:00"),
    ]
    assert set(segment["entitlements"]) == {"effective_from", "effective_to", "items"}
    _no_internals("api entitlements", json.dumps(api, ensure_ascii=False), JSON_FORBIDDEN)

    # the notice the override wrote, worded the same way, in the page and the API
    notices = (await client.get("/api/v1/portal/notices")).json()["notices"]
    override = next(n for n in notices if n["kind"] == "override")
    assert override["title"] == "Your service segment changes to B customers (B)"
    assert override["body"].endswith(
        "What changes for you:\n"
        "- Fill rate: 98% → 95%\n"
        "- On time in full (OTIF): 97% → 92%\n"
        "- Perfect order: 95% → 90%\n"
        "- Quoted lead time: 2 days → 4 days\n"
        f"- Delivery windows: Mon{EN}Fri 08:00{EN}18:00; Sat 08:00{EN}12:00 → "
        f"Mon{EN}Fri 08:00{EN}16:00\n"
    )
    assert override["old_entitlements"] == A_ITEMS
    earlier = next(n for n in notices if n["kind"] == "segment_change")  # the fixture's
    assert [i["text"] for i in earlier["new_entitlements"]] == ["98%"]
    _no_internals("api notices", json.dumps(notices, ensure_ascii=False), JSON_FORBIDDEN)
    for notice in notices:
        _no_internals("notice text", notice["title"] + "\n" + notice["body"])

    # every page
    for path in ("/", "/performance", "/notices", "/performance?account=S1&grain=month"):
        page = await client.get(f"/portal/{slug}{path}")
        assert page.status_code == 200, path
        _no_internals(path, _visible(page.text))
    home = _visible((await client.get(f"/portal/{slug}/")).text)
    assert "Fill rate 95%" in home and "Quoted lead time 4 days" in home
    assert f"Delivery windows Mon{EN}Fri 08:00{EN}16:00" in home
    notices_page = _visible((await client.get(f"/portal/{slug}/notices")).text)
    assert "Fill rate: 98% → 95%" in notices_page

    # the CSV: one row per entitlement, the same words
    body = (await client.get(f"/portal/{slug}/entitlements.csv")).text
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1] == [
        "Account",
        "Scheme",
        "Segment",
        "In segment since",
        "In force from",
        "In force until",
        "Entitlement",
        "Value",
    ]
    assert [(r[6], r[7]) for r in rows[2:]] == [(i["label"], i["text"]) for i in b_items]
    assert {r[2] for r in rows[2:]} == {"B customers (B)"}
    _no_internals("csv", body)

    # the PDF: the segment once, then the entitlements, the account's name as written
    pdf = await client.get(f"/portal/{slug}/entitlements.pdf")
    text = pdf_text(pdf.content)
    assert text.count("B customers (B)") == 1
    assert "Zakłady Mięsne Łódź (P1)" in text
    for item in b_items:
        assert item["label"] in text and item["text"] in text, item
    _no_internals("pdf", text)


async def test_ship_to_documents_say_the_same(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    user = await make_staff(portal.tenant, "customer", customer="P1")
    await portal_sign_in(client, portal.tenant, user.email, user.password)
    slug = portal.tenant.slug
    for path in ("/entitlements.csv?account=S1", "/entitlements.pdf?account=S1"):
        response = await client.get(f"/portal/{slug}{path}")
        assert response.status_code == 200
        text = response.text if path.startswith("/entitlements.csv") else ""
        if not text:
            text = pdf_text(response.content)
        assert "Fill rate" in text and "95%" in text and "Pella North" in text, path
        _no_internals(path, text)


async def test_a_notice_written_by_an_earlier_release_reads_the_same(
    client: httpx.AsyncClient, make_staff: StaffFactory, portal: PortalData
) -> None:
    """Notices stored before the customer-facing list listed internal settings by field name;
    the portal words their changes again from the stored entitlements."""
    from tierline.governance.models import CustomerNotice

    stored = {
        "segment": "B",
        "version": 1,
        "fill_rate_pct": 95.0,
        "otif_pct": 92.0,
        "cycle_service_level_pct": 95.0,
        "allocation_min_share_pct": 0.0,
        "allocation_priority": 2,
        "delivery_windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "16:00"}
        ],
    }
    raised = {**stored, "fill_rate_pct": 98.0, "allocation_min_share_pct": 20.0}
    async with tenant_session(portal.tenant) as s:
        s.add(
            CustomerNotice(
                customer_code="P1",
                kind="entitlement_change",
                scheme_code=SCHEME,
                title="Your service entitlements change",
                body="From 2026-01-05, the service entitlements of your account P1 (segment B) "
                "change.\n\nWhat changes for you:\n- allocation min share pct: 0.0 -> 20.0\n"
                "- fill rate pct: 95.0 -> 98.0\n",
                effective_date=portal.today,
                old_segment="B",
                new_segment="B",
                old_entitlements=stored,
                new_entitlements=raised,
                dedupe_key="earlier-release:P1",
            )
        )
    user = await make_staff(portal.tenant, "customer", customer="P1")
    await portal_sign_in(client, portal.tenant, user.email, user.password)
    notices = (await client.get("/api/v1/portal/notices")).json()["notices"]
    earlier = next(n for n in notices if n["kind"] == "entitlement_change")
    assert earlier["body"].endswith("What changes for you:\n- Fill rate: 95% → 98%\n")
    assert [i["label"] for i in earlier["new_entitlements"]] == [
        "Fill rate",
        "On time in full (OTIF)",
        "Delivery windows",
    ]
    page = _visible((await client.get(f"/portal/{portal.tenant.slug}/notices")).text)
    assert "Fill rate: 95% → 98%" in page
    _no_internals("notices page", page)
    _no_internals("api notices", json.dumps(notices, ensure_ascii=False), JSON_FORBIDDEN)
