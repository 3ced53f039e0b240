"""``tierline demo``: demo tenants in every region, ready to open in a browser."""

from __future__ import annotations

from tierline.platform.runtime import open_runtime
from tierline.platform.settings import Settings

DEMO_TENANTS = (
    ("acme_eu", "Acme Industrial Europe", "eu"),
    ("globex_us", "Globex Distribution US", "us"),
)


async def prepare_demo(settings: Settings, base_url: str) -> list[str]:
    """Migrate, create the demo tenants that are missing, and say where to look."""
    from tierline.tenants.migrate import migrate_all
    from tierline.tenants.service import list_tenants, provision_tenant

    lines: list[str] = []
    async with open_runtime(settings) as runtime:
        await migrate_all(runtime.databases, settings.migrate_concurrency)
        existing = {t.slug for t in await list_tenants(runtime.databases)}
        regions = runtime.databases.region_names
        for index, (slug, name, preferred) in enumerate(DEMO_TENANTS):
            region = preferred if preferred in regions else regions[index % len(regions)]
            if slug not in existing:
                await provision_tenant(runtime.databases, slug, name, region)
            lines.append(f"  {name} ({region}): {base_url}/t/{slug}/")
    return [
        "[bold]Tierline demo is ready.[/bold] Open:",
        *lines,
        f"  API schema: {base_url}/schema",
        f"  Health: {base_url}/health · Readiness: {base_url}/ready",
    ]
