"""Inventory's face to the other domains (and to the inventory sub-packages built on it): the
policy results in force as a polars frame, the calculator, policy documents and runs.
Other domains import this module, never inventory's models or other modules."""

from __future__ import annotations

import uuid

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from tierline.inventory.calculator import CalculatorInput, CalculatorResult, calculate
from tierline.inventory.document import (
    PolicyDocument,
    PolicyInvalid,
    PolicyIssue,
    content_hash,
    example_document,
    parse_document,
)
from tierline.inventory.formulas import FLAG_REASONS, Flag, flag_names
from tierline.inventory.runs import (
    RunNotFound,
    RunOutcome,
    Verification,
    current_results,
    decide_run,
    run_policy,
    run_results,
    runs_query,
    submit_run,
    verify_run,
)
from tierline.inventory.store import (
    PolicyNotFound,
    PolicyRefused,
    PublishedPolicy,
    create_policy,
    publish,
    published,
    save_draft,
)

__all__ = [
    "FLAG_REASONS",
    "CalculatorInput",
    "CalculatorResult",
    "Flag",
    "PolicyDocument",
    "PolicyInvalid",
    "PolicyIssue",
    "PolicyNotFound",
    "PolicyRefused",
    "PublishedPolicy",
    "RunNotFound",
    "RunOutcome",
    "Verification",
    "calculate",
    "content_hash",
    "create_policy",
    "decide_run",
    "example_document",
    "flag_names",
    "latest_policy_results",
    "parse_document",
    "publish",
    "published",
    "run_policy",
    "run_results",
    "runs_query",
    "save_draft",
    "submit_run",
    "verify_run",
    "with_flag_names",
]


def with_flag_names(results: pl.DataFrame) -> pl.DataFrame:
    """``flag_names``: the list of flag names of each row (``flags`` stays the bit mask)."""
    names = [(int(f), (f.name or "").lower()) for f in Flag if f]
    expr = pl.concat_list(
        [
            pl.when((pl.col("flags") & bit) != 0).then(pl.lit(name)).otherwise(None)
            for bit, name in names
        ]
    ).list.drop_nulls()
    return results.with_columns(expr.alias("flag_names"))


async def latest_policy_results(
    session: AsyncSession,
) -> tuple[uuid.UUID | None, pl.DataFrame]:
    """The run in force and its results, one row per SKU-location: ``sku``,
    ``location_code``, ``segment_code``, ``policy_type`` (``s_q`` / ``r_s`` / ``min_max``),
    ``service_measure`` (``cycle_service_level`` / ``fill_rate``), ``service_target``, ``k``,
    ``safety_stock``, ``reorder_point``, ``order_up_to``, ``order_quantity``,
    ``expected_fill_rate``, ``expected_cycle_service_level``, ``expected_on_hand`` (units of
    the product's base unit, ``base_uom``), the statistics they came from (``demand_mean``,
    ``demand_sd`` per period, ``lead_time_mean``/``lead_time_sd`` in periods,
    ``review_period``), ``flags`` (a bit mask of :class:`Flag`) and ``flag_names``.
    Refused rows have null numbers. An empty frame (and None) when no run is in force."""
    run_id, frame = await current_results(session)
    if frame is None:
        from tierline.inventory.engine import RESULT_COLUMNS

        return None, with_flag_names(pl.DataFrame(schema=RESULT_COLUMNS))
    return run_id, with_flag_names(frame)
