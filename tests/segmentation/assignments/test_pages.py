"""The assignments page with exports and the conflicts page, and the segment timeline on the
customer and product pages."""

from __future__ import annotations

import re

import httpx

from tests.conftest import StaffFactory
from tests.support.segmentation_builders import (
    CODE,
    FORMULA_NAME,
    build_history,
    signed_in,
)
from tierline.platform.tenancy import TenantRef


async def test_assignments_page_exports_and_conflicts(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await build_history(tenant)
    await signed_in(client, tenant, make_staff, "analyst")
    base = f"/t/{tenant.slug}/segments"
    page = await client.get(f"{base}/assignments", params={"scheme": CODE, "limit": "2"})
    assert page.status_code == 200 and "Next page" in page.text and "Download CSV" in page.text
    assert "sap_customer_master" in page.text and "sap_material_master" not in page.text
    bad = await client.get(f"{base}/assignments", params={"scheme": CODE, "as_of": "31/12/2025"})
    assert bad.status_code == 422 and "as_of" in bad.text
    csv_body = await client.get(f"{base}/assignments.csv", params={"scheme": CODE})
    assert csv_body.status_code == 200 and "'" + FORMULA_NAME.replace('"', '""') in csv_body.text
    assert "attachment" in csv_body.headers["content-disposition"]
    writeback = await client.get(
        f"{base}/writeback", params={"scheme": CODE, "profile": "sap_customer_master"}
    )
    assert writeback.content.decode().startswith("KUNNR;SEGMENT")
    # Without a scheme (a bookmark, a typed address) it leads to where scheme and profile are
    # chosen, not to an error page.
    bare = await client.get(f"{base}/writeback")
    assert bare.status_code == 303 and bare.headers["location"] == f"{base}/assignments"
    conflicts = await client.get(f"{base}/conflicts")
    assert conflicts.status_code == 200
    assert re.search(r'id="under-count">1<', conflicts.text) and re.search(
        r'id="over-count">1<', conflicts.text
    )
    assert "seg-hot" in conflicts.text and "seg-cold" in conflicts.text
    home = await client.get(base)
    assert CODE in home.text and "New scheme from a template" not in home.text  # analyst: read only
    editor = await client.get(f"{base}/schemes/{CODE}")
    assert editor.status_code == 200 and "Read only" in editor.text and "readonly" in editor.text


async def test_timeline_on_the_customer_page(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await build_history(tenant)
    await signed_in(client, tenant, make_staff, "planner")
    customer = await client.get(f"/t/{tenant.slug}/customers/C4")
    assert customer.status_code == 200
    assert 'hx-get="/t/' in customer.text and "/segments/timeline?customer=C4" in customer.text
    assert 'hx-trigger="load"' in customer.text
    fragment = await client.get(
        f"/t/{tenant.slug}/segments/timeline",
        params={"customer": "C4"},
        headers={"hx-request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count("<tr>") == 3 and "in force" in fragment.text  # header + 2 rows
    full = await client.get(f"/t/{tenant.slug}/segments/timeline", params={"customer": "C4"})
    assert "<html" in full.text and "Segment timeline of customer C4" in full.text
    product = await client.get(f"/t/{tenant.slug}/products/P1")
    assert "/segments/timeline?sku=P1" in product.text
