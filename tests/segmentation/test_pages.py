"""Segmentation pages: the scheme editor (save, validate, dry run, publish), a run started from
the page with its progress, the run page, pending moves, assignments with exports, conflicts and
the timeline on the customer page — signed in through the real login form."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

import httpx
from sqlalchemy import select

from tests.conftest import StaffFactory, csrf_of, sign_in
from tests.segmentation.test_api import CODE, FORMULA_NAME, build_history, move_status, open_segment
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SchemeVersion, SegmentationScheme
from tierline.segmentation.schemes.document import load_template

INVALID_LINE = 12  # the line of "segment: Z" below


def broken(text: str) -> str:
    """The lightweight template with its last rule pointing at an unknown segment."""
    lines = text.splitlines()
    index = max(i for i, line in enumerate(lines) if "segment: C" in line)
    lines[index] = lines[index].replace("segment: C", "segment: Z")
    return "\n".join(lines) + "\n"


async def signed_in(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory, role: str = "admin"
) -> None:
    response = await sign_in(client, await make_staff(tenant, role))
    assert response.status_code == 303, response.text


async def create_from_template(client: httpx.AsyncClient, tenant: TenantRef, code: str) -> str:
    page = await client.get(f"/t/{tenant.slug}/segments")
    assert page.status_code == 200 and "New scheme from a template" in page.text
    created = await client.post(
        f"/t/{tenant.slug}/segments/schemes",
        data={"template": "lightweight", "code": code, "_csrf": csrf_of(page.text)},
    )
    assert created.status_code == 303, created.text
    return created.headers["location"]


async def test_editor_keeps_an_invalid_draft_and_shows_its_lines(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await signed_in(client, tenant, make_staff)
    location = await create_from_template(client, tenant, "edited")
    editor = await client.get(location)
    assert editor.status_code == 200 and 'name="text"' in editor.text
    assert "Created the scheme" in editor.text
    text = broken(load_template("lightweight")).replace("lightweight_abc", "edited")
    bad_line = (
        text.splitlines().index(next(line for line in text.splitlines() if "segment: Z" in line))
        + 1
    )
    url = f"/t/{tenant.slug}/segments/schemes/edited"
    saved = await client.post(
        url, data={"text": text, "action": "save", "_csrf": csrf_of(editor.text)}
    )
    assert saved.status_code == 422
    assert f'href="#line-{bad_line}"' in saved.text and f'id="line-{bad_line}"' in saved.text
    assert "Saved as a draft with errors" in saved.text and 'aria-invalid="true"' in saved.text
    published = await client.post(
        url, data={"text": text, "action": "publish", "note": "x", "_csrf": csrf_of(editor.text)}
    )
    assert published.status_code == 422 and "nothing was published" in published.text
    async with tenant_session(tenant) as s:
        row = await s.get(SegmentationScheme, "edited")
        versions = (await s.execute(select(SchemeVersion))).scalars().all()
    assert row is not None and row.draft_text == text and row.published_version is None
    assert versions == []
    validated = await client.post(
        url,
        data={
            "text": text.replace("segment: Z", "segment: C"),
            "action": "validate",
            "_csrf": csrf_of(editor.text),
        },
    )
    assert validated.status_code == 200 and "The draft is valid (not saved)" in validated.text


async def test_publish_a_valid_draft_then_refuse_an_identical_one(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await signed_in(client, tenant, make_staff, "planner")
    location = await create_from_template(client, tenant, "pub_me")
    editor = await client.get(location)
    text = load_template("lightweight").replace("lightweight_abc", "pub_me")
    url = f"/t/{tenant.slug}/segments/schemes/pub_me"
    done = await client.post(
        url,
        data={
            "text": text,
            "action": "publish",
            "note": "first cut",
            "_csrf": csrf_of(editor.text),
        },
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?published=1")
    page = await client.get(done.headers["location"])
    assert "Published version 1" in page.text and "v1 in force" in page.text
    assert "first cut" in page.text and "sha256:" in page.text
    assert "Run v1 now" in page.text  # the planner may run
    again = await client.post(
        url, data={"text": text, "action": "publish", "_csrf": csrf_of(page.text)}
    )
    assert again.status_code == 409 and "identical" in again.text


async def test_dry_run_then_run_from_the_page(
    client: httpx.AsyncClient, runtime: Runtime, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    tenant = seeded_tenant
    code = f"page_{uuid.uuid4().hex[:8]}"
    await signed_in(client, tenant, make_staff)
    location = await create_from_template(client, tenant, code)
    editor = await client.get(location)
    text = load_template("lightweight").replace("lightweight_abc", code)
    url = f"/t/{tenant.slug}/segments/schemes/{code}"
    preview = await client.post(
        url, data={"text": text, "action": "dry_run", "_csrf": csrf_of(editor.text)}
    )
    assert preview.status_code == 200, preview.text
    found = re.search(r"Dry run: ([\d,]+) entities classified", preview.text)
    assert found is not None
    total = int(found.group(1).replace(",", ""))
    counts_table = preview.text.split('id="preview-counts"')[1].split("</table>")[0]
    counts = [
        int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>', counts_table)
    ]
    assert total > 0 and sum(counts) == total
    assert "<svg" in preview.text and "Samples" in preview.text

    published = await client.post(
        url, data={"text": text, "action": "publish", "_csrf": csrf_of(editor.text)}
    )
    assert published.status_code == 303
    page = await client.get(published.headers["location"])
    started = await client.post(f"{url}/run", data={"_csrf": csrf_of(page.text)})
    assert started.status_code == 303 and "/segments/jobs/" in started.headers["location"]
    job_url = started.headers["location"]
    queued = await client.get(job_url)
    assert queued.status_code == 200 and "<progress" in queued.text and "hx-get" in queued.text
    assert 'http-equiv="refresh"' in queued.text  # works without JavaScript
    job_id = unquote(job_url.rsplit("/", 1)[1])
    assert await execute_job(runtime, tenant.slug, job_id) == "succeeded"
    done = await client.get(job_url, headers={"hx-request": "true"})
    assert "<html" not in done.text and "See the run" in done.text and "hx-get" not in done.text
    run_url = re.search(r'href="([^"]+/segments/runs/[^"]+)"', done.text).group(1)  # type: ignore[union-attr]
    run = await client.get(run_url)
    assert run.status_code == 200 and "Engine version" in run.text
    segment_table = run.text.split('id="segment-counts"')[1].split("</table>")[0]
    run_counts = [
        int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>', segment_table)
    ]
    assert sum(run_counts) == total
    new_only = await client.get(run_url, params={"outcome": "new", "limit": "5"})
    assert new_only.status_code == 200 and "Next page" in new_only.text


async def test_moves_page_applies_and_rejects_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    m = history.moves
    await signed_in(client, tenant, make_staff, "approver")
    url = f"/t/{tenant.slug}/segments/moves"
    page = await client.get(url)
    assert page.status_code == 200 and f'value="{m["C1"]}"' in page.text
    csrf = csrf_of(page.text)
    no_reason = await client.post(
        url, data={"move": [str(m["C1"])], "decision": "apply", "reason": "", "_csrf": csrf}
    )
    assert no_reason.status_code == 409 and "reason" in no_reason.text
    assert await move_status(tenant, m["C1"]) == "pending"
    applied = await client.post(
        url,
        data={
            "move": [str(m["C1"]), str(m["C3"])],
            "decision": "apply",
            "reason": "reviewed",
            "_csrf": csrf,
        },
    )
    assert applied.status_code == 303 and "2%20applied" in applied.headers["location"]
    assert await open_segment(tenant, "C1") == "A" and await open_segment(tenant, "C3") == "A"
    stale = await client.post(
        url, data={"move": [str(m["C1"])], "decision": "reject", "reason": "no", "_csrf": csrf}
    )
    assert stale.status_code == 409 and "already decided" in stale.text
    rejected = await client.post(
        url, data={"move": [str(m["C5"])], "decision": "reject", "reason": "no", "_csrf": csrf}
    )
    assert rejected.status_code == 303
    assert await move_status(tenant, m["C5"]) == "rejected"
    history_page = await client.get(url, params={"status": "applied"})
    assert "reviewed" in history_page.text


async def test_planner_cannot_approve_tier_jumps(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    history = await build_history(tenant)
    await signed_in(client, tenant, make_staff, "planner")
    url = f"/t/{tenant.slug}/segments/moves"
    page = await client.get(url)
    assert "needs overrides:approve_major" in page.text
    refused = await client.post(
        url,
        data={
            "move": [str(history.moves["C3"])],
            "decision": "apply",
            "reason": "r",
            "_csrf": csrf_of(page.text),
        },
    )
    assert refused.status_code == 403
    assert await move_status(tenant, history.moves["C3"]) == "pending"


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
