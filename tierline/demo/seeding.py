"""``tierline demo seed``: load a synthetic data set into a tenant through the real import
pipeline (validation, unit conversion, encryption, COPY), entity by entity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import polars as pl

from tierline.masterdata.service import (
    LOAD_ORDER,
    ImportResult,
    customer_count,
    generic_profile,
    run_import,
)
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

Progress = Callable[[float, str], Awaitable[None]]
SEED_ACTOR = Actor("demo-seed", "system")


class SeedFailed(RuntimeError):
    pass


async def _nothing(_fraction: float, _message: str) -> None:
    return None


def source_frames(sources: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Other systems' customer records as customer imports, one frame per source system."""
    frames = {}
    for system in sorted(sources["source_system"].unique().to_list()):
        part = sources.filter(pl.col("source_system") == system).drop("source_system")
        part = part.rename({"source_key": "code"})
        if "account_type" not in part.columns:
            part = part.with_columns(pl.lit("ship_to").alias("account_type"))
        frames[system] = part
    return frames


async def seed_tenant(
    runtime: Runtime, tenant: TenantRef, scale: str, seed: int = 7, progress: Progress | None = None
) -> list[ImportResult]:
    """Generate ``scale`` data and import all of it; raises ``SeedFailed`` on a rejection."""
    from tierline.demo.synthetic import generate

    report = progress or _nothing
    await report(0.0, f"generating {scale} data set")
    dataset = generate(scale, seed=seed)
    steps: list[tuple[str, pl.DataFrame, str]] = [
        (name, getattr(dataset, name), "erp") for name in LOAD_ORDER
    ]
    steps[1:1] = [
        ("customers", frame, system)
        for system, frame in source_frames(dataset.customer_sources).items()
    ]
    results = []
    for index, (entity_name, frame, system) in enumerate(steps):
        profile = generic_profile(entity_name, system)
        label = entity_name if system == "erp" else f"{entity_name} from {system}"
        await report(index / len(steps), f"loading {frame.height:,} {label}")
        result = await run_import(
            runtime,
            tenant,
            entity_name,
            frame,
            profile,
            SEED_ACTOR,
            file_name=f"synthetic-{scale}-{label}",
        )
        if result.status != "applied":
            raise SeedFailed(f"{label}: {result.summary()}; first problem: {result.errors[:1]}")
        results.append(result)
    await report(1.0, "seeded")
    return results


async def seed_demo_data(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: the ``small`` data set, unless the tenant already has customers."""
    if await customer_count(tenant):
        return []
    demo.say(f"loading demo data into {tenant.name} …")
    await seed_tenant(runtime, tenant, "small")
    return []


BOOK_SIZE = 12  # sold-to accounts (with their ship-tos) the demo account manager looks after


async def give_account_manager_a_book(runtime: Runtime, tenant: TenantRef, demo: Any) -> list[str]:
    """``tierline demo``: the demo account manager looks after a dozen sold-to accounts and
    their ship-tos, so its pages (customers, moves, pushback) have something to show."""
    from sqlalchemy import select

    from tierline.demo.tenants import demo_email
    from tierline.masterdata.service import customer_directory, set_account_manager

    customers = customer_directory()
    async with tenant_session(tenant) as s:
        sold_to = list(
            (
                await s.execute(
                    select(customers.c.code)
                    .where(customers.c.account_type == "sold_to")
                    .order_by(customers.c.code)
                    .limit(BOOK_SIZE)
                )
            ).scalars()
        )
        ship_to = list(
            (
                await s.execute(
                    select(customers.c.code).where(customers.c.parent_code.in_(sold_to))
                )
            ).scalars()
        )
        await set_account_manager(s, sold_to + ship_to, demo_email("account_manager", tenant.slug))
    return []
