"""The scheme editor: save keeps an invalid draft with its lines, validate, publish, and an
identical draft refused — signed in through the real login form."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.conftest import StaffFactory, csrf_of
from tests.support.segmentation_builders import (
    create_from_template,
    signed_in,
)
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
