"""File imports: everything validated first, all applied or nothing, clear error reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tierline.masterdata.importing.models import Import
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Customer, OrderLine, Product
from tierline.masterdata.profiles.definition import build_profile
from tierline.masterdata.profiles.presets import presets
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session

CUSTOMERS = """code,name,account_type,parent_code,region,country,channel,strategic,tax_id,sap_group
G1,Global Foods,global,,emea,DE,retail,true,DE111,A
P1,Foods Germany,parent,G1,emea,DE,retail,true,DE112,A
C1,Foods Berlin,ship_to,P1,emea,DE,retail,false,,B
C2,"Foods Munich, South",ship_to,P1,emea,DE,distributor,no,,B
"""
PRODUCTS = """sku,description,product_line,category,base_uom,lifecycle,launch_date
S1,Olive oil 1L,oils,food,EA,active,2020-01-01
S2,Sunflower oil 5L,oils,food,EA,npi,2026-01-15
"""
UNITS = "sku,uom,factor\nS1,CS,12\nS2,PAL,480\n"
LINES = """order_no,line_no,customer_code,sku,order_date,quantity,uom,revenue,margin,currency,delivered_date,delivered_quantity
O1,1,C1,S1,2026-01-05,2,CS,240.50,60.25,EUR,2026-01-08,2
O1,2,C1,S2,2026-01-05,10,EA,99.90,-5.10,EUR,2026-01-09,9
O2,1,C2,S1,2026-02-01,1,CS,120.00,30.00,EUR,,
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


async def load(
    runtime: Runtime, tenant: TenantRef, entity: str, path: Path, profile: str | None = None
):  # type: ignore[no-untyped-def]
    chosen = presets()[profile or f"generic_{entity}"]
    return await run_import(runtime, tenant, entity, path, chosen, SYSTEM)


async def count(tenant: TenantRef, model: type) -> int:
    async with tenant_session(tenant) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def load_base(runtime: Runtime, tenant: TenantRef, tmp_path: Path) -> None:
    for entity, content in (
        ("customers", CUSTOMERS),
        ("products", PRODUCTS),
        ("uom_conversions", UNITS),
    ):
        result = await load(runtime, tenant, entity, write(tmp_path, f"{entity}.csv", content))
        assert result.status == "applied", result.errors


async def test_full_load_converts_units_encrypts_money_and_is_idempotent(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_base(runtime, tenant, tmp_path)
    path = write(tmp_path, "lines.csv", LINES)
    first = await load(runtime, tenant, "order_lines", path)
    assert first.status == "applied" and (first.inserted, first.updated) == (3, 0)
    async with tenant_session(tenant) as s:
        line = (
            await s.execute(
                select(OrderLine).where(OrderLine.order_no == "O1", OrderLine.line_no == 1)
            )
        ).scalar_one()
        assert (
            float(line.quantity) == 24
            and float(line.ordered_quantity) == 2
            and line.ordered_uom == "CS"
        )
        assert float(line.delivered_quantity) == 24  # type: ignore[arg-type]
        assert line.revenue_enc and b"240.5" not in line.revenue_enc
        customer = (await s.execute(select(Customer).where(Customer.code == "C2"))).scalar_one()
        assert customer.name == "Foods Munich, South" and customer.strategic is False
        assert customer.scope == "emea" and customer.attributes == {"sap_group": "B"}
    again = await load(runtime, tenant, "order_lines", path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    customers_again = await load(runtime, tenant, "customers", write(tmp_path, "c2.csv", CUSTOMERS))
    assert customers_again.unchanged == 4
    changed = await load(
        runtime, tenant, "order_lines", write(tmp_path, "l2.csv", LINES.replace("99.90", "89.90"))
    )
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)


BAD_LINES = {
    "text in a number column": (
        "O9,1,C1,S1,2026-01-05,two,EA,1,0,EUR,,",
        "quantity",
        "not a number",
    ),
    "future date": (
        f"O9,1,C1,S1,{(dt.date.today() + dt.timedelta(days=30)).isoformat()},1,EA,1,0,EUR,,",
        "order_date",
        "in the future",
    ),
    "unknown customer": (
        "O9,1,NOPE,S1,2026-01-05,1,EA,1,0,EUR,,",
        "customer_code",
        "unknown customer 'NOPE'",
    ),
    "unknown unit": ("O9,1,C1,S1,2026-01-05,1,BARREL,1,0,EUR,,", "uom", "unknown unit 'BARREL'"),
    "missing conversion": (
        "O9,1,C1,S1,2026-01-05,1,PAL,1,0,EUR,,",
        "uom",
        "no conversion from PAL to base unit EA",
    ),
    "margin above revenue": (
        "O9,1,C1,S1,2026-01-05,1,EA,10,50,EUR,,",
        "margin",
        "larger than revenue",
    ),
    "bad date": ("O9,1,C1,S1,05/01/2026,1,EA,1,0,EUR,,", "order_date", "not a date"),
    "number too large for its column": (
        "O9,1,C1,S1,2026-01-05,123456789012345,EA,1,0,EUR,,",
        "quantity",
        "too large (at most 14 digits before the decimal point)",
    ),
    "whole number too large": (
        "O9,3000000000,C1,S1,2026-01-05,1,EA,1,0,EUR,,",
        "line_no",
        "too large (at most 2,147,483,647)",
    ),
    "too large once converted": (
        "O9,1,C1,S2,2026-01-05,99999999999999,PAL,1,0,EUR,,",
        "quantity",
        "too large once converted to the base unit",
    ),
    "control character": (
        "O\x1b9,1,C1,S1,2026-01-05,1,EA,1,0,EUR,,",
        "order_no",
        "control characters are not allowed",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
async def test_bad_rows_are_reported_and_nothing_is_applied(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, case: str
) -> None:
    await load_base(runtime, tenant, tmp_path)
    row, column, reason = BAD_LINES[case]
    result = await load(
        runtime, tenant, "order_lines", write(tmp_path, "l.csv", LINES + row + "\n")
    )
    assert result.status == "rejected"
    assert any(
        e["line"] == 5 and e["column"] == column and reason in e["reason"] for e in result.errors
    ), result.errors
    assert await count(tenant, OrderLine) == 0  # the three good lines were not applied either


async def test_duplicate_key_inside_the_file(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_base(runtime, tenant, tmp_path)
    result = await load(
        runtime,
        tenant,
        "order_lines",
        write(tmp_path, "l.csv", LINES + LINES.splitlines()[1] + "\n"),
    )
    assert result.status == "rejected"
    assert (
        result.errors[0]["line"] == 5
        and "duplicate key in the file (first on line 2)" in result.errors[0]["reason"]
    )


@pytest.mark.parametrize(
    "content,fragment",
    [
        (CUSTOMERS.replace(",", ";"), "is the delimiter ';'?"),
        (PRODUCTS, "is this a customers file?"),
        ("code,name,account_type\nC1,Caf\xe9,ship_to\n".encode("latin-1"), "not valid UTF-8"),
        ("code,na\xefme,account_type\nC1,x,ship_to\n".encode("latin-1"), "(byte 7)"),
        (b"code,name,account_type\nC1,x,ship_to\xc3", "ends mid-character"),
        ("", "empty"),
        ('code,name,account_type\nC1,"unterminated,ship_to\n', "not well-formed CSV"),
    ],
)
async def test_unreadable_files_are_rejected_whole(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, content: str | bytes, fragment: str
) -> None:
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert fragment in result.errors[0]["reason"], result.errors
    assert await count(tenant, Customer) == 0


async def test_truncated_file_names_the_cut_line(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    truncated = CUSTOMERS.rstrip("\n")[:-25]
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", truncated))
    assert result.status == "rejected"
    assert "line 5 has 5 of 10 fields" in result.errors[0]["reason"], result.errors
    assert await count(tenant, Customer) == 0


async def test_unknown_parent_and_hostile_strings(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    content = "code,name,account_type,parent_code\nC1,=cmd|' /C calc'!A0,ship_to,GHOST\nC2,<script>x</script>,ship_to,\n"
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert result.errors == [
        {
            "line": 2,
            "column": "parent_code",
            "value": "GHOST",
            "reason": "unknown parent customer 'GHOST'",
        }
    ]
    ok = await load(
        runtime, tenant, "customers", write(tmp_path, "c2.csv", content.replace("GHOST", "C2"))
    )
    assert ok.status == "applied"
    async with tenant_session(tenant) as s:
        names = set((await s.execute(select(Customer.name))).scalars())
    assert names == {
        "=cmd|' /C calc'!A0",
        "<script>x</script>",
    }  # stored as given; escaped on output


async def test_sap_preset_with_semicolons_decimal_comma_and_value_maps(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    sap = "KUNNR;NAME1;LAND1;PSTLZ;KTOKD;VTWEG;VKORG\n100017;Müller GmbH;DE;80331;0002;20;BU_CHEM\n"
    result = await load(
        runtime, tenant, "customers", write(tmp_path, "kna1.csv", sap), "sap_customer_master"
    )
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        c = (await s.execute(select(Customer).where(Customer.code == "100017"))).scalar_one()
    assert (c.name, c.account_type, c.channel, c.business_unit, c.scope) == (
        "Müller GmbH",
        "ship_to",
        "distributor",
        "bu_chem",
        "bu_chem",
    )


async def test_latin1_profile_reads_latin1(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    profile = build_profile(
        {"name": "latin", "entity": "customers", "options": {"encoding": "latin-1"}}
    )
    path = write(
        tmp_path, "c.csv", "code,name,account_type\nC1,Caf\xe9 Noir,ship_to\n".encode("latin-1")
    )
    result = await run_import(runtime, tenant, "customers", path, profile, SYSTEM)
    assert result.status == "applied"


async def test_latin1_file_with_a_control_character_is_rejected(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    profile = build_profile(
        {"name": "latin", "entity": "customers", "options": {"encoding": "latin-1"}}
    )
    content = "code,name,account_type\nC1,Caf\xe9\x07 Noir,ship_to\n".encode("latin-1")
    result = await run_import(
        runtime, tenant, "customers", write(tmp_path, "c.csv", content), profile, SYSTEM
    )
    assert result.status == "rejected"
    assert [(e["line"], e["column"]) for e in result.errors] == [(2, "name")], result.errors
    assert await count(tenant, Customer) == 0


def test_control_bytes_are_exactly_the_refused_characters() -> None:
    """The file-level byte scan that lets validation skip its own scan must agree with it."""
    import re

    from tierline.masterdata.importing.reader import has_control_bytes
    from tierline.masterdata.importing.validate import _CONTROL

    for code in range(128):
        assert has_control_bytes(bytes([code])) == bool(re.search(_CONTROL, chr(code))), code
    assert not has_control_bytes("Café \t\r\n €".encode())


async def test_a_value_map_that_brings_in_a_control_character_is_caught(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    """The file is clean, but the profile translates a value into one with a control
    character: the scan is not skipped, and the row is refused."""
    await load_base(runtime, tenant, tmp_path)
    profile = build_profile(
        {"name": "mapped", "entity": "order_lines", "values": {"currency": {"EUR": "E\x07"}}}
    )
    path = write(tmp_path, "l.csv", LINES)
    result = await run_import(runtime, tenant, "order_lines", path, profile, SYSTEM)
    assert result.status == "rejected"
    assert any(
        e["column"] == "currency" and "control characters" in e["reason"] for e in result.errors
    ), result.errors
    assert await count(tenant, OrderLine) == 0


async def test_xlsx_values_load_and_formulas_are_refused(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["sku", "description", "base_uom", "launch_date"])
    sheet.append(["X1", "Widget", "EA", dt.datetime(2024, 5, 1)])
    book.save(tmp_path / "p.xlsx")
    ok = await load(runtime, tenant, "products", tmp_path / "p.xlsx")
    assert ok.status == "applied" and ok.inserted == 1
    sheet.append(["X2", '=HYPERLINK("http://evil")', "EA", None])
    book.save(tmp_path / "p2.xlsx")
    bad = await load(runtime, tenant, "products", tmp_path / "p2.xlsx")
    assert bad.status == "rejected" and "cell B3 holds a formula" in bad.errors[0]["reason"]
    assert await count(tenant, Product) == 1


async def test_applied_and_rejected_imports_record_the_files_sha256(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    """The digest is read while the import goes on; its outcome carries the file's SHA-256."""
    import hashlib

    await load_base(runtime, tenant, tmp_path)
    good = write(tmp_path, "good.csv", LINES)
    bad = write(tmp_path, "bad.csv", LINES + "O9,1,NOPE,S1,2026-01-05,1,EA,1,0,EUR,,\n")
    results = [await load(runtime, tenant, "order_lines", path) for path in (good, bad)]
    assert [r.status for r in results] == ["applied", "rejected"]
    async with tenant_session(tenant) as s:
        for result, path in zip(results, (good, bad), strict=True):
            row = await s.get(Import, result.import_id)
            assert row is not None
            assert row.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


async def test_imports_are_recorded_and_audited(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await load_base(runtime, tenant, tmp_path)
    async with tenant_session(tenant) as s:
        rows = list((await s.execute(select(Import).order_by(Import.created_at))).scalars())
        actions = list(
            (await s.execute(text("SELECT action FROM audit_log ORDER BY seq"))).scalars()
        )
    assert [r.status for r in rows] == ["applied"] * 3
    assert all(len(r.file_sha256) == 64 for r in rows)
    assert actions.count("imports.apply") == 3


async def test_region_dump_holds_no_plaintext_revenue_or_margin(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    import asyncio

    from tests.support.dumps import pg_dump

    await load_base(runtime, tenant, tmp_path)
    lines = LINES.replace("240.50", "987654.32").replace("60.25", "123456.78")
    assert (
        await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", lines))
    ).status == "applied"
    dump = await asyncio.to_thread(pg_dump, runtime, tenant.schema)
    assert b"Foods Berlin" in dump  # the dump really holds the tenant's rows
    for secret in (b"987654.32", b"987654.3", b"123456.78", b"123456.8"):
        assert secret not in dump


@pytest.fixture(params=[200_000, 2], ids=["one-chunk", "two-row-chunks"])
def chunk_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run a test with the file read in one chunk and in many (the pipeline's edges)."""
    from tierline.masterdata.importing import reader

    monkeypatch.setattr(reader, "CHUNK_ROWS", request.param)
    return int(request.param)


async def _lines(tenant: TenantRef) -> dict[tuple[str, int], OrderLine]:
    async with tenant_session(tenant) as s:
        rows = (await s.execute(select(OrderLine))).scalars().all()
        return {(r.order_no, r.line_no): r for r in rows}


async def test_new_changed_and_unchanged_rows_in_one_file(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, chunk_rows: int
) -> None:
    """New rows go straight into the table, changed rows are updated through the staging
    table, unchanged rows are not written at all (not even re-encrypted)."""
    await load_base(runtime, tenant, tmp_path)
    first = await load(runtime, tenant, "order_lines", write(tmp_path, "l1.csv", LINES))
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    before = await _lines(tenant)
    mixed = (
        LINES.replace("99.90", "89.90")  # O1/2 changed
        + "O3,1,C2,S2,2026-02-03,1,PAL,500.00,50.00,EUR,,\n"  # new
        + "O3,2,C1,S1,2026-02-03,3,EA,30.00,3.00,EUR,,\n"  # new
    )
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l2.csv", mixed))
    assert result.status == "applied", result.errors
    assert (result.inserted, result.updated, result.unchanged) == (2, 1, 2)
    after = await _lines(tenant)
    assert set(after) == {("O1", 1), ("O1", 2), ("O2", 1), ("O3", 1), ("O3", 2)}
    for key in (("O1", 1), ("O2", 1)):  # untouched: same ciphertext, hash and stamp
        old, new = before[key], after[key]
        assert (new.revenue_enc, new.row_hash, new.updated_at) == (
            old.revenue_enc,
            old.row_hash,
            old.updated_at,
        )
    changed, was = after[("O1", 2)], before[("O1", 2)]
    assert changed.revenue_enc != was.revenue_enc and changed.row_hash != was.row_hash
    assert changed.id == was.id and changed.margin_enc and changed.margin_enc != was.margin_enc
    assert float(after[("O3", 1)].quantity) == 480 and after[("O3", 1)].revenue_enc
    assert after[("O3", 2)].margin_estimated is False and after[("O3", 2)].documentation_ok
    again = await load(runtime, tenant, "order_lines", write(tmp_path, "l3.csv", mixed))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    stamps = {k: (v.row_hash, v.revenue_enc, v.updated_at) for k, v in after.items()}
    assert {
        k: (v.row_hash, v.revenue_enc, v.updated_at) for k, v in (await _lines(tenant)).items()
    } == stamps


async def test_duplicate_key_across_chunks_is_reported_and_nothing_applied(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, chunk_rows: int
) -> None:
    """A key repeated in a later chunk (after the first one was written) is a validation
    problem like any other, never a unique-key failure from the database."""
    await load_base(runtime, tenant, tmp_path)
    first = LINES.splitlines()[1]
    content = LINES + "O4,1,C1,S1,2026-01-05,1,EA,1,0,EUR,,\n" + first + "\n"
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", content))
    assert result.status == "rejected"
    assert [(e["line"], e["reason"]) for e in result.errors] == [
        (6, "duplicate key in the file (first on line 2)")
    ]
    assert await count(tenant, OrderLine) == 0
    # the same with rows already in the table (the look-up path)
    assert (await load(runtime, tenant, "order_lines", write(tmp_path, "a.csv", LINES))).inserted
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", content))
    assert result.status == "rejected" and result.errors[0]["line"] == 6
    assert await count(tenant, OrderLine) == 3


async def test_a_malformed_line_after_chunks_were_written_applies_nothing(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, chunk_rows: int
) -> None:
    """The reader fails on a late line while earlier chunks are being copied: the copies
    in flight end, everything rolls back, and the next import runs normally."""
    await load_base(runtime, tenant, tmp_path)
    content = LINES + 'O5,1,C1,S1,2026-01-05,1,EA,"1,0,EUR,,\n'
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", content))
    assert result.status == "rejected"
    assert "not well-formed CSV" in result.errors[0]["reason"], result.errors
    assert await count(tenant, OrderLine) == 0
    again = await load(runtime, tenant, "order_lines", write(tmp_path, "ok.csv", LINES))
    assert (again.status, again.inserted) == ("applied", 3)


async def test_invalid_utf8_after_chunks_were_written_names_the_byte(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, chunk_rows: int
) -> None:
    """Text is checked as it is parsed, so a bad byte late in the file is found after
    earlier chunks were copied: the report names the byte and nothing is applied."""
    await load_base(runtime, tenant, tmp_path)
    head = LINES.encode()
    content = head + "O5,1,C1,S1,2026-01-05,1,EA,1,0,EUR,Caf\xe9,\n".encode("latin-1")
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", content))
    assert result.status == "rejected"
    bad_byte = content.index(b"\xe9")
    assert f"not valid UTF-8 (byte {bad_byte})" in result.errors[0]["reason"], result.errors
    assert await count(tenant, OrderLine) == 0


async def test_first_large_load_rebuilds_the_indexes_it_deferred(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large first load drops the indexes (primary and unique keys too) and builds them
    again in the same transaction: afterwards (and after a failed load) the table has the
    same indexes and constraints."""
    from tierline.masterdata.importing import service

    monkeypatch.setattr(service, "DEFER_INDEXES_BYTES", 0)
    query = text(
        "SELECT indexname, indexdef, k.conname, k.contype::text, pg_get_constraintdef(k.oid) "
        "FROM pg_indexes x LEFT JOIN pg_constraint k ON k.conname = x.indexname "
        "AND k.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = x.schemaname) "
        "WHERE tablename = 'order_lines' AND schemaname = current_schema() ORDER BY 1"
    )
    async with tenant_session(tenant) as s:
        indexes = (await s.execute(query)).all()
    assert len(indexes) >= 4 and {i.contype for i in indexes} >= {"p", "u", None}
    await load_base(runtime, tenant, tmp_path)
    bad = LINES + "O9,1,NOPE,S1,2026-01-05,1,EA,1,0,EUR,,\n"
    rejected = await load(runtime, tenant, "order_lines", write(tmp_path, "bad.csv", bad))
    assert rejected.status == "rejected"
    async with tenant_session(tenant) as s:
        assert (await s.execute(query)).all() == indexes
    applied = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", LINES))
    assert applied.status == "applied" and applied.inserted == 3
    async with tenant_session(tenant) as s:
        assert (await s.execute(query)).all() == indexes


async def test_order_dates_are_indexed_by_block_ranges(runtime: Runtime, tenant: TenantRef) -> None:
    """Tenant migration t0010: with order lines stored in date order (as feeds arrive), a
    month's window is read through the BRIN index on ``order_date``, not the whole table."""
    async with tenant_session(tenant) as s:
        definition = (
            await s.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'ix_order_lines_order_date'"
                )
            )
        ).scalar_one()
        assert "USING brin (order_date)" in definition
        # Three years of lines, ~90 a day, in date order.
        await s.execute(
            text(
                "INSERT INTO order_lines (order_no, line_no, customer_code, sku, order_date, "
                "quantity, ordered_quantity, ordered_uom) "
                "SELECT 'SO' || i, 1, 'C' || (i % 500), 'SKU' || (i % 900), "
                "DATE '2023-01-01' + i / 90, 1, 1, 'EA' FROM generate_series(1, 100000) i"
            )
        )
        await s.execute(text("ANALYZE order_lines"))
        plan = "\n".join(
            (
                await s.execute(
                    text(
                        "EXPLAIN SELECT order_no, quantity FROM order_lines "
                        "WHERE order_date BETWEEN '2024-03-01' AND '2024-03-31'"
                    )
                )
            ).scalars()
        )
    assert "Bitmap Index Scan on ix_order_lines_order_date" in plan, plan


async def test_a_first_load_waits_for_rows_another_session_is_writing(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table looks empty while another session's insert is not committed yet. The import
    locks the table before dropping its indexes, waits, looks again and finds the row: it
    updates it instead of loading a duplicate key."""
    import asyncio

    from tierline.masterdata.importing import service
    from tierline.platform.tenancy import tenant_connection

    monkeypatch.setattr(service, "DEFER_INDEXES_BYTES", 0)
    await load_base(runtime, tenant, tmp_path)
    path = write(tmp_path, "l.csv", LINES)
    async with tenant_connection(tenant) as other:
        await other.execute(
            text(
                "INSERT INTO order_lines (order_no, line_no, customer_code, sku, order_date, "
                "quantity, ordered_quantity, ordered_uom) "
                "VALUES ('O1', 1, 'C1', 'S1', '2026-01-05', 1, 1, 'EA')"
            )
        )
        importing = asyncio.create_task(load(runtime, tenant, "order_lines", path))
        waiting = text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'order_lines'::regclass"
        )
        for _ in range(200):
            async with tenant_connection(tenant) as probe:
                if (await probe.execute(waiting)).scalar_one():
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the import never waited for the table lock")
    result = await importing  # the other session has committed
    assert result.status == "applied", result.errors
    assert (result.inserted, result.updated) == (2, 1)
    assert await count(tenant, OrderLine) == 3


async def test_money_sealed_in_the_helper_process_opens_to_the_file_values(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large first load seals revenue and margin in the helper process while it checks
    the next chunks: every value opens, bound to its own row and column."""
    from tierline.masterdata.importing import apply, service
    from tierline.platform.encryption import sealer
    from tierline.platform.encryption.store import kms_from_settings, load_codec

    monkeypatch.setattr(apply, "SEAL_IN_HELPER_ROWS", 1)
    monkeypatch.setattr(service, "HELPER_BYTES", 0)
    sealer.stop_helper()
    await load_base(runtime, tenant, tmp_path)
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", LINES))
    assert result.status == "applied" and result.inserted == 3
    assert sealer._helper is not None and sealer._helper.alive  # the helper did the sealing
    codec = await load_codec(tenant, kms_from_settings(runtime.settings))
    opened = {}
    for key, line in (await _lines(tenant)).items():
        row_key = f"{key[0]}/{key[1]}"
        opened[key] = tuple(
            codec.decrypt(blob, table="order_lines", column=column, row_key=row_key)
            for column, blob in (("revenue", line.revenue_enc), ("margin", line.margin_enc))
        )
    assert {k: tuple(float(v) for v in vs) for k, vs in opened.items()} == {  # type: ignore[arg-type]
        ("O1", 1): (240.5, 60.25),
        ("O1", 2): (99.9, -5.1),
        ("O2", 1): (120.0, 30.0),
    }
    sealer.stop_helper()
