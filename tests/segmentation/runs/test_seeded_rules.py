"""On the seeded data set: text attributes compare trimmed and case-insensitively (the shipped
template's region and channel rules fire on lower-case imports), the dry run warns about rules
that match nothing and values never seen, the use of defaults is visible (run page, run API,
dry run), the run page states how variability was measured and which counts are the rule
result and which are in force, and ``/segments/schemes`` is no dead end."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import polars as pl

from tests.conftest import StaffFactory
from tests.support.segmentation_builders import bearer, signed_in
from tierline.platform.identity.users import Actor
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session
from tierline.segmentation.runs.service import dry_run, load_and_classify, run_scheme
from tierline.segmentation.schemes.document import load_template, parse_scheme
from tierline.segmentation.schemes.store import create_scheme, publish

ACTOR = Actor("planner@example.com")
TODAY = datetime.now(UTC).date()


def customer_service(code: str, change: tuple[str, str] | None = None) -> str:
    text = load_template("customer_service").replace("cust_service", code)
    if change:
        assert change[0] in text
        text = text.replace(*change)
    return text


async def test_the_shipped_templates_region_and_channel_rules_fire(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    scheme = parse_scheme(customer_service("cs_fire")).scheme
    classified = await load_and_classify(runtime, seeded_tenant, scheme, TODAY)
    features, results = classified.features, classified.results
    # imports store these values in lower case; the template names them in upper case
    assert "emea" in features["region"].to_list() and "EMEA" not in features["region"].to_list()
    assert {"oem", "project"} <= set(features["channel"].drop_nulls().to_list())
    rules = results.join(features.select("entity_key", "region", "channel"), on="entity_key")
    # region in [EMEA]: mid-market accounts in emea are Gold
    emea = rules.filter(pl.col("rule") == "subtrees.mid_market[0]")
    assert emea.height > 0 and emea["region"].eq("emea").all()
    assert emea["segment"].eq("GOLD").all()
    # channel in [OEM, PROJECT]: C accounts of those channels reach the mid-market subtree
    by_channel = rules.filter(
        (pl.col("abc") == "C") & pl.col("rule").str.starts_with("subtrees.mid_market")
    )
    assert by_channel.height > 0 and set(by_channel["channel"]) <= {"oem", "project"}
    # the dry run of the shipped template has nothing to warn about on this data
    preview = await dry_run(runtime, seeded_tenant, scheme)
    assert not [w for w in preview.warnings if "region" in w or "channel" in w], preview.warnings


async def test_the_dry_run_warns_about_rules_that_can_never_fire(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    text = customer_service("cs_warn", ("in: [EMEA]}", "in: [' Emea ', Mars]}"))
    text = text.replace("in: [OEM, PROJECT]}", "eq: key_account}")
    preview = await dry_run(runtime, seeded_tenant, parse_scheme(text).scheme)
    warnings = "\n".join(preview.warnings)
    assert "subtrees.mid_market[0].when.in[1]: no entity has region 'Mars'" in warnings
    assert "most common: emea" in warnings or "most common: amer" in warnings
    assert "' Emea '" not in warnings  # trimmed and ignoring case, it is emea
    assert "tree[2].when.any[1].eq: no entity has channel 'key_account'" in warnings
    # a condition nobody meets at all
    none = customer_service(
        "cs_none", ("{attr: margin_pct, gte: 0.25}", "{attr: margin_pct, gte: 9}")
    )
    preview = await dry_run(runtime, seeded_tenant, parse_scheme(none).scheme)
    assert "tree[1].then[0].when: matches no entity in the data" in preview.warnings


async def test_defaults_used_are_counted_shown_and_filtered(
    runtime: Runtime,
    seeded_tenant: TenantRef,
    client: httpx.AsyncClient,
    make_staff: StaffFactory,
) -> None:
    code = f"cs_{uuid.uuid4().hex[:8]}"
    async with tenant_session(seeded_tenant, runtime.databases) as s:
        await create_scheme(s, customer_service(code), ACTOR)
        await publish(s, code, ACTOR)
    scheme = parse_scheme(customer_service(code)).scheme
    outcome = await run_scheme(runtime, seeded_tenant, code, actor=ACTOR)
    used = outcome.counts["defaults_used"]
    assert used and set(used) <= {"region", "channel", "margin_pct"} and all(used.values())

    # the dry run counts the same
    preview = await dry_run(runtime, seeded_tenant, scheme)
    assert preview.defaults_used == used

    # the run API: counts per attribute, each result's list, a filter
    headers = await bearer(client, seeded_tenant, ["segments:read", "schemes:write"])
    attr = sorted(used)[0]
    api = (
        await client.get(
            f"/api/v1/segment-runs/{outcome.run_id}",
            params={"outcome": "all", "default": attr, "limit": 1000},
            headers=headers,
        )
    ).json()
    assert api["defaults_used"] == used
    assert len(api["results"]) == min(used[attr], 1000)
    assert all(attr in r["defaults_used"] for r in api["results"])
    dry = await client.post(f"/api/v1/schemes/{code}:dry-run", json={}, headers=headers)
    assert dry.status_code == 200 and dry.json()["defaults_used"] == used

    # the run page: a table per attribute, a column and a filter on the results
    await signed_in(client, seeded_tenant, make_staff)
    url = f"/t/{seeded_tenant.slug}/segments/runs/{outcome.run_id}"
    page = await client.get(url)
    table = page.text.split('id="defaults-used"')[1].split("</table>")[0]
    assert attr in table and f"{used[attr]:,}" in table
    assert '<th scope="col">Defaults used</th>' in page.text and 'name="default"' in page.text
    filtered = await client.get(url, params={"outcome": "all", "default": attr, "limit": "1000"})
    rows = filtered.text.split("<tbody>")[-1].split("</tbody>")[0]
    assert rows.count("<tr>") == min(used[attr], 1000)
    # how variability was measured, and what the counts are
    assert "over the whole window" in page.text and "variability.since: window" in page.text
    assert "Rule result" in page.text and "In force now" in page.text


async def test_variability_since_first_order_runs_on_real_order_history(
    runtime: Runtime, seeded_tenant: TenantRef
) -> None:
    base = load_template("customer_product").replace(
        "code: customer_product_service", "code: pairs_since"
    )
    since = parse_scheme(base.replace("{bucket: month}", "{bucket: month, since: first_order}"))
    whole = parse_scheme(base)
    assert since.scheme.variability.since == "first_order"
    first = await load_and_classify(runtime, seeded_tenant, since.scheme, TODAY)
    window = await load_and_classify(runtime, seeded_tenant, whole.scheme, TODAY)
    assert "first_order" not in first.features.columns
    cv = first.features.select("entity_key", "cv").join(
        window.features.select("entity_key", pl.col("cv").alias("cv_window")), on="entity_key"
    )
    # measured from their first order, pairs look no more erratic than over the whole window
    both = cv.drop_nulls()
    assert both.height > 0
    assert (both["cv"] <= both["cv_window"] + 1e-9).all()
    assert (both["cv"] < both["cv_window"] - 1e-9).any()  # some pairs began inside the window


async def test_the_schemes_path_leads_to_the_segments_page(
    client: httpx.AsyncClient, seeded_tenant: TenantRef, make_staff: StaffFactory
) -> None:
    await signed_in(client, seeded_tenant, make_staff, role="analyst")
    answer = await client.get(f"/t/{seeded_tenant.slug}/segments/schemes")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/t/{seeded_tenant.slug}/segments"
    page = await client.get(answer.headers["location"])
    assert page.status_code == 200 and "In force now" in page.text
    assert re.search(r"rule result.*differs from it by the moves it held", page.text, re.S)
