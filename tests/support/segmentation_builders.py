"""What several segmentation, service-level and governance test folders build on: a small
hand-written run history (customers C1..C5, a run, assignments and pending moves), machine
credentials, sign-in, and the rule that contracts made on the shared seeded tenant end with
the test that made them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select, text

from tests.conftest import StaffFactory, csrf_of, sign_in
from tierline.masterdata.models import Customer, Product
from tierline.platform.identity.clients import create_client
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.models import (
    PendingMove,
    RunResult,
    SegmentAssignment,
    SegmentationRun,
)
from tierline.segmentation.schemes.document import load_template
from tierline.segmentation.schemes.store import create_scheme, publish

ACTOR = Actor("planner@example.com")
NOW = datetime.now(UTC)
T0 = NOW - timedelta(days=10)
T1 = NOW - timedelta(days=5)
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
CODE = "lightweight_abc"


@dataclass(frozen=True)
class History:
    """A tenant with a published customer scheme, one run, assignment history and moves."""

    tenant: TenantRef
    run_id: uuid.UUID
    moves: dict[str, int]  # customer code -> pending move id


async def build_history(tenant: TenantRef) -> History:
    """Customers C1..C5 (and P1) with a hand-written run of ``lightweight_abc`` (A > B > C):

    - C1 strategic/platinum in C (under-served), C2 bronze in A (over-served, formula name),
      C3 gold in B, C4 silver A until T1 then B, C5 no tier in C;
    - pending moves: C1 C->A (spike), C3 B->A (tier_jump), C5 C->B (share_moving).
    """
    async with tenant_session(tenant) as s:
        await s.execute(
            insert(Customer),
            [
                {"code": "C1", "name": "Acme", "account_type": "sold_to", "strategic": True,
                 "crm_tier": "platinum", "account_manager_email": "am1@example.com"},
                {"code": "C2", "name": FORMULA_NAME, "account_type": "sold_to",
                 "crm_tier": "bronze"},
                {"code": "C3", "name": "Gamma", "account_type": "sold_to", "crm_tier": "gold",
                 "account_manager_email": "am3@example.com"},
                {"code": "C4", "name": "Delta", "account_type": "sold_to", "crm_tier": "silver"},
                {"code": "C5", "name": "Epsilon", "account_type": "sold_to"},
            ],
        )  # fmt: skip
        await s.execute(insert(Product), [{"sku": "P1", "description": "Widget", "base_uom": "EA"}])
        parsed = await create_scheme(s, load_template("lightweight"), ACTOR)
        version = await publish(s, parsed.scheme.code, ACTOR)
        run_id = uuid.uuid4()
        s.add(
            SegmentationRun(
                id=run_id,
                scheme_code=CODE,
                version=version.version,
                content_hash=version.content_hash,
                engine_version="test",
                as_of=T1.date(),
                status="succeeded",
                trigger="manual",
                requested_by=ACTOR.name,
                started_at=T1,
                finished_at=T1,
                inputs={"as_of": T1.date().isoformat(), "entities": 5, "order_lines": 9},
                counts={"entities": 5, "outcomes": {"applied": 1, "pending": 3, "unchanged": 1},
                        "segments": {"A": 3, "B": 1, "C": 1}},
                warnings=["stale: feed 'erp' is late"],
            )
        )  # fmt: skip
        await s.flush()
        results = [("C1", "A", "C", "pending", "A"), ("C2", "A", "A", "unchanged", "A"),
                   ("C3", "A", "B", "pending", "A"), ("C4", "B", "A", "applied", "B"),
                   ("C5", "B", "C", "pending", "B")]  # fmt: skip
        s.add_all(
            RunResult(
                run_id=run_id, entity_key=k, segment=seg, previous_segment=prev, outcome=o,
                abc=abc, source="rule", rule="tree[0]", defaults_used=[],
            )
            for k, seg, prev, o, abc in results
        )  # fmt: skip
        rows = [("C1", "C", T0, None), ("C2", "A", T0, None), ("C3", "B", T0, None),
                ("C4", "A", T0, T1), ("C4", "B", T1, None), ("C5", "C", T0, None)]  # fmt: skip
        s.add_all(
            SegmentAssignment(
                scheme_code=CODE, entity_key=k, customer_code=k, segment=seg, valid_from=start,
                valid_to=end, run_id=run_id, source="rule", reason="run new: tree[0]",
            )
            for k, seg, start, end in rows
        )  # fmt: skip
        moves = {}
        for key, src, dst, reason in [("C1", "C", "A", "spike"), ("C3", "B", "A", "tier_jump"),
                                      ("C5", "C", "B", "share_moving")]:  # fmt: skip
            move = PendingMove(
                run_id=run_id, scheme_code=CODE, entity_key=key, customer_code=key,
                from_segment=src, to_segment=dst, reasons=[reason], source="rule",
            )  # fmt: skip
            s.add(move)
            await s.flush()
            moves[key] = move.id
    return History(tenant, run_id, moves)


async def bearer(client: httpx.AsyncClient, tenant: TenantRef, scopes: list[str]) -> dict[str, str]:
    client_id, secret = await create_client(tenant, "ERP connector", scopes, "test")
    token = await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def open_segment(tenant: TenantRef, key: str) -> str:
    async with tenant_session(tenant) as s:
        return (
            await s.execute(
                select(SegmentAssignment.segment).where(
                    SegmentAssignment.entity_key == key, SegmentAssignment.valid_to.is_(None)
                )
            )
        ).scalar_one()


async def move_status(tenant: TenantRef, move_id: int) -> str:
    async with tenant_session(tenant) as s:
        return (await s.get(PendingMove, move_id)).status  # type: ignore[union-attr]


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


@pytest.fixture(autouse=True)
async def _contracts_end_with_the_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Contracts are tenant-wide promises that every later entitlement and move check would see:
    a test's contracts on the shared seeded tenant end with the test. Folders that make
    contracts import this into their ``conftest.py``."""
    yield
    if "seeded_tenant" not in request.fixturenames:
        return
    tenant: TenantRef = request.getfixturevalue("seeded_tenant")
    runtime: Runtime = request.getfixturevalue("runtime")
    async with tenant_session(tenant, runtime.databases) as session:
        await session.execute(text("DELETE FROM contracts"))
