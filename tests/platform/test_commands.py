"""The command line as a script sees it: piped output keeps whole lines."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.conftest import StaffFactory
from tierline.platform.tenancy import TenantRef


async def test_piped_tables_are_not_cut_to_the_terminal_width(
    tenant: TenantRef, make_staff: StaffFactory
) -> None:
    long_name = "a.very.long.mailbox.name.for.a.planner.of.the.northern.region"
    from tierline.platform.identity.users import SYSTEM, create_user
    from tierline.platform.tenancy import tenant_session

    async with tenant_session(tenant) as s:
        await create_user(s, email=f"{long_name}@example.com", role="planner", actor=SYSTEM)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tierline", "users", "list", "--tenant", tenant.slug],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{long_name}@example.com" in done.stdout
