"""Hostile scheme documents: an alias bomb or thousands of nesting levels are refused with a
4xx in milliseconds, through every door that parses (create, draft, dry run, the editor of a
stored draft), and never stall the event loop that serves every other tenant."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
from sqlalchemy import update

from tests.conftest import StaffFactory, TenantFactory, csrf_of
from tests.support.segmentation_builders import bearer, create_from_template, signed_in
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import SegmentationScheme
from tierline.segmentation.schemes.document import SchemeInvalid, parse_scheme

FAST = 2.0  # seconds: the old loader needed ~25 s for BOMB, and ~9 times more per level
# The work of refusing is measured in CPU seconds of this process, so a machine busy with other
# processes does not fail the test; that another tenant is not kept waiting is wall-clock below.


def alias_bomb(levels: int = 9) -> str:
    """ "Billion laughs": each level lists the previous one nine times (9**levels values)."""
    names = [f"l{i}" for i in range(levels)]
    lines = [f'{names[0]}: &{names[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB = alias_bomb()
DEEP_YAML = "[" * 5000 + "]" * 5000
DEEP_JSON = '{"a": ' * 5000 + "1" + "}" * 5000
YAML = {"content-type": "text/yaml"}


def test_the_bomb_is_small_and_refused_with_a_line_in_milliseconds() -> None:
    assert len(BOMB.encode()) < 600
    for text in (BOMB, alias_bomb(12), DEEP_YAML, DEEP_JSON):
        started = time.process_time()
        try:
            parse_scheme(text)
        except SchemeInvalid as invalid:
            message = str(invalid)
        else:
            raise AssertionError("a hostile document was accepted")
        assert time.process_time() - started < FAST
        assert "aliases" in message or "levels deep" in message, message
    try:
        parse_scheme(BOMB)
    except SchemeInvalid as invalid:
        assert invalid.errors[0].line is not None  # the author is pointed at a line


async def test_bombs_and_deep_documents_are_4xx_through_every_api_door(
    client: httpx.AsyncClient, tenant: TenantRef
) -> None:
    headers = await bearer(client, tenant, ["segments:read", "schemes:write"])
    created = await client.post(
        "/api/v1/schemes", json={"template": "lightweight", "code": "hostile"}, headers=headers
    )
    assert created.status_code == 201, created.text
    for text in (BOMB, DEEP_YAML, DEEP_JSON):
        started = time.process_time()
        answers = [
            await client.post("/api/v1/schemes", content=text, headers={**headers, **YAML}),
            await client.post("/api/v1/schemes", json={"text": text}, headers=headers),
            await client.post(
                "/api/v1/schemes/hostile:dry-run", json={"text": text}, headers=headers
            ),
        ]
        for answer in answers:
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["message"]
        saved = await client.put(
            "/api/v1/schemes/hostile/draft", content=text, headers={**headers, **YAML}
        )
        assert saved.status_code == 200 and saved.json()["valid"] is False, saved.text
        published = await client.post("/api/v1/schemes/hostile/publish", json={}, headers=headers)
        assert published.status_code == 422, published.text  # the stored bomb is the draft
        assert time.process_time() - started < 5 * FAST
    # A JSON body that itself nests thousands of levels is a 4xx as well.
    deep_body = await client.post(
        "/api/v1/schemes",
        content=DEEP_JSON.replace('"a"', '"text"'),
        headers={**headers, "content-type": "application/json"},
    )
    assert 400 <= deep_body.status_code < 500, deep_body.text


async def test_a_bomb_does_not_stall_another_tenants_requests(
    client: httpx.AsyncClient, tenant: TenantRef, make_tenant: TenantFactory
) -> None:
    other = await make_tenant()
    attacker = await bearer(client, tenant, ["segments:read", "schemes:write"])
    victim = await bearer(client, other, ["segments:read"])
    await client.get("/api/v1/schemes", headers=victim)  # warm: token, directory, policy

    async def bomb() -> httpx.Response:
        return await client.post("/api/v1/schemes", content=BOMB, headers={**attacker, **YAML})

    async def cheap() -> float:
        await asyncio.sleep(0.01)  # let the bombs start first
        started = time.perf_counter()
        answer = await client.get("/api/v1/schemes", headers=victim)
        assert answer.status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    *bombs, waited = await asyncio.gather(*[bomb() for _ in range(4)], cheap())
    assert all(b.status_code == 422 for b in bombs)
    assert waited < FAST, f"another tenant waited {waited:.1f} s"
    assert time.perf_counter() - started < 2 * FAST


async def test_a_stored_bomb_draft_does_not_stall_the_editor(
    client: httpx.AsyncClient, tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await signed_in(client, tenant, make_staff)
    location = await create_from_template(client, tenant, "stored_bomb")
    # Written straight into the table, as an old release (or a restore) could have left it.
    async with tenant_session(tenant) as s:
        await s.execute(
            update(SegmentationScheme)
            .where(SegmentationScheme.code == "stored_bomb")
            .values(draft_text=BOMB)
        )
    started = time.perf_counter()
    editor = await client.get(location)
    assert editor.status_code == 200, editor.text
    assert time.perf_counter() - started < FAST
    assert "l0: &amp;l0" in editor.text  # the draft is shown as it is, to be fixed
    # Validating it from the form names the problem instead of expanding it.
    page = await client.get(location)
    checked = await client.post(
        location.split("?")[0],
        data={"text": BOMB, "action": "validate", "_csrf": csrf_of(page.text)},
    )
    assert checked.status_code == 422 and "aliases" in checked.text
    assert time.perf_counter() - started < 3 * FAST
