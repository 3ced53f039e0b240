"""Optional tracing: with TIERLINE_TRACING on, a request yields a server span named by its route
template with SQL and Redis spans inside it. Run in a child process: tracing instruments
SQLAlchemy and Redis process-wide, which the rest of the suite must not carry."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

from tierline.platform.settings import Settings, SettingsError
from tierline.platform.tenancy import TenantRef

CHILD = textwrap.dedent(
    """
    import asyncio, dataclasses, json, sys
    import httpx
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from tierline.platform import tracing
    from tierline.platform.app import create_app
    from tierline.platform.runtime import open_runtime
    from tierline.platform.settings import get_settings

    async def main():
        settings = dataclasses.replace(get_settings(), tracing="otlp", tracing_sample=1.0)
        exporter = InMemorySpanExporter()
        tracing.tracer_provider(settings, exporter=exporter)
        async with open_runtime(settings) as runtime:
            app = create_app(settings, runtime=runtime)
            transport = httpx.ASGITransport(app=app)
            from tests.conftest import asgi_lifespan
            async with asgi_lifespan(app):
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    r = await c.get("/t/" + sys.argv[1] + "/login")
                    assert r.status_code == 200, r.status_code
        spans = [
            {"name": s.name, "trace": s.context.trace_id, "kind": str(s.kind),
             "attributes": {k: str(v) for k, v in (s.attributes or {}).items()}}
            for s in exporter.get_finished_spans()
        ]
        print(json.dumps(spans))

    asyncio.run(main())
    """
)


async def test_a_request_is_traced_through_sql_and_redis(tenant: TenantRef) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CHILD, tenant.slug],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    spans = json.loads(done.stdout.strip().splitlines()[-1])
    server = [s for s in spans if "SpanKind.SERVER" in s["kind"]]
    assert server, [(s["name"], s["kind"]) for s in spans]
    assert server[0]["name"] == "GET /t/{tenant}/login", server[0]["name"]
    trace = server[0]["trace"]
    names = [s["name"] for s in spans if s["trace"] == trace]
    assert any(n.split()[0] in {"SELECT", "BEGIN", "connect"} for n in names), names
    assert tenant.slug not in json.dumps([s["name"] for s in spans])  # templates, not values


def test_tracing_settings_are_checked() -> None:
    assert Settings._from_mapping({}).tracing == "off"
    found = Settings._from_mapping({"TIERLINE_TRACING": "OTLP", "TIERLINE_TRACING_SAMPLE": "1"})
    assert (found.tracing, found.tracing_sample) == ("otlp", 1.0)
    with pytest.raises(SettingsError, match="TIERLINE_TRACING must be"):
        Settings._from_mapping({"TIERLINE_TRACING": "jaeger"})
    with pytest.raises(SettingsError, match="between 0 and 1"):
        Settings._from_mapping({"TIERLINE_TRACING_SAMPLE": "2"})
