"""A dry run from the editor, then a run started from the page with its progress and the run
page."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

import httpx

from tests.conftest import StaffFactory, csrf_of
from tests.support.segmentation_builders import (
    create_from_template,
    signed_in,
)
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef
from tierline.segmentation.schemes.document import load_template


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
    assert 'id="preview-defaults"' in preview.text  # the use of defaults, counted (if any)

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
    # two columns: the rule result of the run, and what is in force now (the same after a
    # first run: every entity is new), explained under the table
    rule_result, in_force = run_counts[0::2], run_counts[1::2]
    assert sum(rule_result) == total and in_force == rule_result
    assert "Rule result" in run.text and "In force now" in run.text
    assert "held, frozen and pending moves" in run.text
    new_only = await client.get(run_url, params={"outcome": "new", "limit": "5"})
    assert new_only.status_code == 200 and "Next page" in new_only.text
