"""Batch API: upsert 10,000 customers in one request (target <= 2 s).

Baseline, same run: a bare ``COPY`` of the same 10,000 rows into an unindexed table, so the
ratio shows the cost of validation, the API and the upsert on top of moving the bytes.
"""

from __future__ import annotations

import asyncio
import io
import time

import httpx

from bench._harness import fresh_runtime, write_result

COUNT = 10_000


def records(run: int) -> list[dict[str, object]]:
    return [
        {
            "code": f"R{run}-{i:05d}",
            "name": f"Customer {i} of run {run}",
            "account_type": "ship_to",
            "region": ("emea", "amer", "apac")[i % 3],
            "country": ("DE", "US", "JP")[i % 3],
            "channel": "retail",
            "strategic": i % 50 == 0,
            "postal_code": f"{10000 + i}",
        }
        for i in range(COUNT)
    ]


async def bare_copy(runtime, tenant, rows: list[dict[str, object]]) -> float:  # type: ignore[no-untyped-def]
    from tierline.platform.tenancy import tenant_connection

    text = "\n".join(",".join(str(r[k]) for k in r) for r in rows).encode()
    async with tenant_connection(tenant, runtime.databases) as conn:
        await conn.exec_driver_sql(
            "CREATE TEMP TABLE bare (code text, name text, account_type text, region text, "
            "country text, channel text, strategic boolean, postal_code text)"
        )
        raw = (await conn.get_raw_connection()).driver_connection
        started = time.perf_counter()
        await raw.copy_to_table("bare", source=io.BytesIO(text), format="csv")
        return time.perf_counter() - started


async def main() -> None:
    from tierline.platform.app import create_app
    from tierline.platform.encryption.store import kms_from_settings
    from tierline.platform.identity.clients import create_client
    from tierline.tenants.service import provision_tenant

    async with fresh_runtime() as runtime:
        tenant = await provision_tenant(
            runtime.databases, "bench_api", "Bench", "eu", kms=kms_from_settings(runtime.settings)
        )
        client_id, secret = await create_client(tenant, "bench", ["masterdata:write"], "bench")
        app = create_app(runtime.settings, runtime=runtime)
        from tests.conftest import asgi_lifespan

        async with asgi_lifespan(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
                token = (
                    await c.post(
                        "/api/v1/oauth/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": client_id,
                            "client_secret": secret,
                        },
                    )
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                timings, update_timings = [], []
                for run in range(3):
                    body = {"records": records(run)}
                    started = time.perf_counter()
                    resp = await c.post("/api/v1/customers:batch", json=body, headers=headers)
                    timings.append(time.perf_counter() - started)
                    assert resp.status_code == 200 and resp.json()["inserted"] == COUNT, resp.text[
                        :300
                    ]
                    for row in body["records"]:
                        row["channel"] = "distributor"
                    started = time.perf_counter()
                    resp = await c.post("/api/v1/customers:batch", json=body, headers=headers)
                    update_timings.append(time.perf_counter() - started)
                    assert resp.json()["updated"] == COUNT, resp.text[:300]
        baseline = await bare_copy(runtime, tenant, records(9))
    write_result(
        "batch_api",
        {
            "records": COUNT,
            "insert_seconds_best": round(min(timings), 3),
            "update_seconds_best": round(min(update_timings), 3),
            "bare_copy_seconds": round(baseline, 3),
            "ratio_insert_vs_bare_copy": round(min(timings) / baseline, 1),
            "target_seconds": 2.0,
            "meets_target": max(min(timings), min(update_timings)) <= 2.0,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
