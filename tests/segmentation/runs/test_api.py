"""Dry runs and runs over the API: a preview writes nothing, a queued run is a job whose run
is listed and paged."""

from __future__ import annotations

import uuid

import httpx

from tests.support.segmentation_builders import bearer
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef


async def test_dry_run_and_run_over_the_api(
    client: httpx.AsyncClient, runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    tenant = seeded_tenant
    code = f"api_{uuid.uuid4().hex[:8]}"
    headers = await bearer(
        client, tenant, ["segments:read", "schemes:write", "segments:run", "jobs:read"]
    )
    created = await client.post(
        "/api/v1/schemes", json={"template": "lightweight", "code": code}, headers=headers
    )
    assert created.status_code == 201, created.text
    preview = await client.post(f"/api/v1/schemes/{code}:dry-run", json={}, headers=headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["total"] > 0 and sum(body["counts"].values()) == body["total"]
    assert set(body["counts"]) <= {"A", "B", "C"}
    assert all(len(v) <= 10 for v in body["samples"].values())

    not_yet = await client.post("/api/v1/segment-runs", json={"scheme": code}, headers=headers)
    assert not_yet.status_code == 409  # nothing published yet
    await client.post(f"/api/v1/schemes/{code}/publish", json={}, headers=headers)
    queued = await client.post("/api/v1/segment-runs", json={"scheme": code}, headers=headers)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job"]["id"]
    assert await execute_job(runtime, tenant.slug, job_id) == "succeeded"
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    run_id = job["result"]["run_id"]
    runs = (
        await client.get("/api/v1/segment-runs", params={"scheme": code}, headers=headers)
    ).json()
    assert [r["id"] for r in runs["items"]] == [run_id]
    run = (
        await client.get(
            f"/api/v1/segment-runs/{run_id}", params={"outcome": "new", "limit": 5}, headers=headers
        )
    ).json()
    assert run["status"] == "succeeded" and run["counts"]["entities"] == body["total"]
    assert sum(run["counts"]["segments"].values()) == body["total"]
    assert len(run["results"]) == 5 and run["next_cursor"]
    following = (
        await client.get(
            f"/api/v1/segment-runs/{run_id}",
            params={"outcome": "new", "limit": 5, "cursor": run["next_cursor"]},
            headers=headers,
        )
    ).json()
    keys = [r["entity_key"] for r in run["results"] + following["results"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == 10
    assigned = (
        await client.get(
            "/api/v1/segments/assignments", params={"scheme": code, "limit": 1000}, headers=headers
        )
    ).json()
    # a new scheme's first run assigns every entity but those a guard holds for approval
    held = run["counts"]["outcomes"].get("pending", 0)
    assert len(assigned["items"]) == min(1000, body["total"] - held), run["counts"]
    bad_id = await client.get("/api/v1/segment-runs/not-a-uuid", headers=headers)
    assert bad_id.status_code == 404
