"""ERP files as SAP GUI and SE16N really save them load with the shipped presets: UTF-16 with
its byte-order mark, UTF-8 with one, Windows-1252; tab or semicolon; a title above the header;
German labels or technical field names; blank lines at the end; ``00.00.0000`` for no date;
units as ``UMREZ`` / ``UMREN``, kept exactly. The fixtures are built here, byte by byte."""

from __future__ import annotations

import codecs
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.masterdata.importing.test_import import count, load, write
from tierline.masterdata.importing.service import run_import
from tierline.masterdata.models import Customer, OrderLine, Product, UomConversion
from tierline.masterdata.profiles.definition import build_profile
from tierline.platform.identity.users import SYSTEM
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantRef, tenant_session


def se16n(table: str, header: list[str], rows: list[list[str]]) -> bytes:
    """An SE16N "unconverted" download: UTF-16LE with its byte-order mark, tab-separated,
    Windows line ends, the table's title and a blank line above the header, blank lines
    after the last row."""
    lines = [f"Tabelle:\t{table}", "", "\t".join(header), *("\t".join(r) for r in rows), "", ""]
    return codecs.BOM_UTF16_LE + "\r\n".join(lines).encode("utf-16-le")


KNA1_DE = se16n(
    "KNA1",
    ["Kunde", "Name 1", "Land", "Postleitzahl", "Kontengruppe", "Vertriebsweg", "Verkaufsorganisation", "Steuernummer 1"],
    [
        ["0000100017", "Müller Großhandel GmbH", "DE", "80331", "0002", "20", "BU_CHEM", "DE811"],
        ["0000100018", "Bäckerei Öztürk", "AT", "1010", "0001", "10", "BU_FOOD", ""],
    ],
)  # fmt: skip

MARA_DE = se16n(
    "MARA",
    ["Material", "Materialkurztext", "Angelegt am", "Basismengeneinheit", "Warengruppe", "Werksübergr. Materialstatus", "Sparte"],
    [
        ["M-100", "Schraube M8 verzinkt", "15.03.2021", "ST", "SCHR", "", "10"],
        ["M-200", "Dübel Ø 8 mm", "00.00.0000", "ST", "DUEB", "99", "10"],
    ],
)  # fmt: skip

# 9 cartons hold 10 pieces; a pack holds 1/24 of a piece (SAP: UMREZ / UMREN).
MARM_DE = se16n(
    "MARM",
    ["Material", "Alternative Mengeneinheit", "Zähler", "Nenner"],
    [["M-100", "KAR", "10", "9"], ["M-100", "PAK", "1", "24"], ["M-200", "KAR", "100", "1"]],
)


async def test_an_se16n_download_in_utf16_with_german_labels_loads_with_the_presets(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    for entity, content, preset in (
        ("customers", KNA1_DE, "sap_customer_master"),
        ("products", MARA_DE, "sap_material_master"),
        ("uom_conversions", MARM_DE, "sap_material_units"),
    ):
        result = await load(
            runtime, tenant, entity, write(tmp_path, f"{entity}.txt", content), preset
        )
        assert result.status == "applied", (entity, result.errors)
        assert result.total_rows == (2 if entity != "uom_conversions" else 3)
    async with tenant_session(tenant) as s:
        customers = {c.code: c for c in (await s.execute(select(Customer))).scalars()}
        products = {p.sku: p for p in (await s.execute(select(Product))).scalars()}
        units = {
            (u.sku, u.uom): (u.factor, u.denominator)
            for u in (await s.execute(select(UomConversion))).scalars()
        }
    muller = customers["0000100017"]
    assert (muller.name, muller.account_type, muller.channel, muller.postal_code) == (
        "Müller Großhandel GmbH",
        "ship_to",
        "distributor",
        "80331",
    )
    assert customers["0000100018"].name == "Bäckerei Öztürk"
    assert products["M-100"].launch_date is not None
    assert products["M-100"].launch_date.isoformat() == "2021-03-15"
    assert products["M-200"].launch_date is None  # 00.00.0000: no date
    assert (products["M-200"].description, products["M-200"].lifecycle) == (
        "Dübel Ø 8 mm",
        "phase_out",
    )
    assert products["M-100"].base_uom == "EA"
    # exactly as SAP states them: not 10 for 10/9, not 1 for 1/24
    assert units == {
        ("M-100", "CS"): (Decimal(10), Decimal(9)),
        ("M-100", "PAK"): (Decimal(1), Decimal(24)),
        ("M-200", "CS"): (Decimal(100), Decimal(1)),
    }


async def test_order_lines_convert_with_numerator_and_denominator(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    await test_an_se16n_download_in_utf16_with_german_labels_loads_with_the_presets(
        runtime, tenant, tmp_path
    )
    lines = (
        "order_no,line_no,customer_code,sku,order_date,quantity,uom,delivered_quantity\n"
        "O1,1,0000100017,M-100,2026-01-05,9,CS,18\n"  # 9 cartons = 10 pieces
        "O1,2,0000100017,M-100,2026-01-05,48,PAK,\n"  # 48 packs = 2 pieces
        "O1,3,0000100017,M-100,2026-01-05,3,CS,\n"  # 3 cartons = 3.3333 pieces
    )
    result = await load(runtime, tenant, "order_lines", write(tmp_path, "l.csv", lines))
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        got = {
            r.line_no: (r.quantity, r.ordered_quantity, r.delivered_quantity)
            for r in (await s.execute(select(OrderLine))).scalars()
        }
    assert got == {
        1: (Decimal("10.0000"), Decimal("9.0000"), Decimal("20.0000")),
        2: (Decimal("2.0000"), Decimal("48.0000"), None),
        3: (Decimal("3.3333"), Decimal("3.0000"), None),
    }


async def test_a_windows_1252_semicolon_file_with_umlauts_loads_with_the_preset(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    text = (
        "KUNNR;NAME1;LAND1;PSTLZ;KTOKD;VTWEG\r\n"
        "100017;Müller & Söhne Straßenbau;DE;80331;0002;20\r\n"
        "100018;Café Œuvre \u2013 Zürich;CH;8001;0001;10\r\n\r\n"  # (an en dash: 0x96)
    )
    content = text.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # really not UTF-8
    result = await load(
        runtime, tenant, "customers", write(tmp_path, "kna1.csv", content), "sap_customer_master"
    )
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        names = set((await s.execute(select(Customer.name))).scalars())
    assert names == {"Müller & Söhne Straßenbau", "Café Œuvre \u2013 Zürich"}


async def test_utf8_with_a_bom_and_technical_names_loads_with_the_preset(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    text = "MATNR;MAKTX;MEINS;ERSDA\r\nM-1;Kühlschrank;ST;01.02.2020\r\nM-2;Gefrierfach;ST;00.00.0000\r\n"
    result = await load(
        runtime,
        tenant,
        "products",
        write(tmp_path, "mara.csv", codecs.BOM_UTF8 + text.encode()),
        "sap_material_master",
    )
    assert result.status == "applied", result.errors
    assert result.inserted == 2


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "profile-says-utf-16"])
async def test_a_utf16_file_is_text(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, bom: bool
) -> None:
    """A UTF-16 file was called "not a text file", even with a profile naming its encoding."""
    text = "code,name,account_type\r\nC1,Ünal Lojistik,ship_to\r\n"
    content = (codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le")
    options = {} if bom else {"encoding": "utf-16-le"}
    profile = build_profile({"name": "u16", "entity": "customers", "options": options})
    result = await run_import(
        runtime, tenant, "customers", write(tmp_path, "c.csv", content), profile, SYSTEM
    )
    assert result.status == "applied", result.errors
    async with tenant_session(tenant) as s:
        assert (await s.execute(select(Customer.name))).scalar_one() == "Ünal Lojistik"


@pytest.mark.parametrize(
    "tail,reason",
    [
        (
            'C3,"Gamma,ship_to\nC4,Delta,ship_to\n',
            "line 4 opens a quoted value that is never closed",
        ),
        ("C3,Gamma,ship_to,extra,more\nC4,Delta,ship_to\n", "line 4 has 5 fields, the header 3"),
    ],
    ids=["unclosed-quote", "ragged-row"],
)
async def test_a_malformed_row_names_its_line(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path, tail: str, reason: str
) -> None:
    content = "code,name,account_type\nC1,Alpha,ship_to\nC2,Beta,ship_to\n" + tail
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert reason in result.errors[0]["reason"], result.errors
    assert await count(tenant, Customer) == 0


async def test_a_title_above_the_header_keeps_line_numbers_true(
    runtime: Runtime, tenant: TenantRef, tmp_path: Path
) -> None:
    content = "Customers export 2026-03-01\n\ncode,name,account_type\nC1,Alpha,ship_to\nC2,Beta,moon\n\n\n"
    result = await load(runtime, tenant, "customers", write(tmp_path, "c.csv", content))
    assert result.status == "rejected"
    assert [(e["line"], e["column"]) for e in result.errors] == [(5, "account_type")]
