"""``tierline demo``: migrate, create the demo tenants and logins, then run every package's
declared demo step for each tenant (master data, schemes with history, entitlements, a portal
login...), in order. Each step only adds what is missing, so running the demo again is safe."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from tierline.demo.tenants import demo_tenants, ensure_demo_users
from tierline.platform import assembly
from tierline.platform.plugins import resolve
from tierline.platform.runtime import open_runtime
from tierline.platform.settings import Settings
from tierline.tenants.service import migrate_all


@dataclass
class DemoContext:
    """What every demo step may use: the shared password of the demo logins (new on every
    ``tierline demo``), where the app is served, and the console to report on (or None)."""

    password: str
    base_url: str
    console: Any = None
    notes: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message)


async def prepare_demo(settings: Settings, base_url: str, console: Any = None) -> list[str]:
    """Migrate, create what is missing (tenants, logins, data), and say where to look."""
    demo = DemoContext("demo-" + secrets.token_urlsafe(9), base_url, console)
    lines: list[str] = []
    steps = [(step, resolve(step.target)) for step in assembly.demo_steps()]
    async with open_runtime(settings) as runtime:
        await migrate_all(runtime.databases, settings.migrate_concurrency)
        for tenant in await demo_tenants(runtime):
            emails = await ensure_demo_users(tenant, demo.password)
            lines.append(
                f"  [bold]{tenant.name}[/bold] (region {tenant.region}): "
                f"{base_url}/t/{tenant.slug}/"
            )
            lines += [f"      {email}" for email in emails]
            for _step, run_step in steps:
                lines += await run_step(runtime, tenant, demo)
    return [
        "[bold]Tierline demo is ready.[/bold] Open a workspace and sign in as any role:",
        *lines,
        "  Password for every demo login (new on each `tierline demo`): "
        f"[bold]{demo.password}[/bold]",
        f"  API schema: {base_url}/schema",
        f"  Health: {base_url}/health · Readiness: {base_url}/ready",
    ]
