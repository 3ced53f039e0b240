"""The write-back file: the approved changes as whole ERP records in the layout of the ERP's
parameters profile (the SAP MARC preset by default: ``MATNR;WERKS;DISMM;MINBE;EISBE;PLIFZ;
WEBAZ;BSTMI;BSTRF;MABST;MEINS;DAY_UNIT``, decimal comma), in the profile's delimiter, decimal
mark and encoding, with its value translations reversed (``CS`` back to ``KAR``, calendar
days to ``KT``), so the ERP's own upload reads it and so does Tierline's import.

Whole records, not only the changed fields: an upload that replaces a record must not blank
the planned delivery time or the lot sizes it was not asked to change. Quantities are in the
ERP's unit (the proposal is already; the lot sizes are converted back from base units)."""

from __future__ import annotations

import polars as pl

from tierline.masterdata.service import Profile
from tierline.platform.downloads import encode_chunks
from tierline.platform.errors import DomainError

# Attribute -> the column of the write-back rows it is written from, in the entity's order
WRITTEN = {
    "sku": "sku",
    "location_code": "location_code",
    "mrp_type": "proposed_mrp_type",
    "reorder_point": "proposed_reorder_point",
    "safety_stock": "proposed_safety_stock",
    "planned_delivery_days": "planned_delivery_days",
    "goods_receipt_days": "goods_receipt_days",
    "min_lot": "min_lot",
    "lot_rounding": "lot_rounding",
    "max_stock": "max_stock",
    "uom": "erp_uom",
    "days_basis": "days_basis",
}
NUMBERS = (
    "reorder_point",
    "safety_stock",
    "planned_delivery_days",
    "goods_receipt_days",
    "min_lot",
    "lot_rounding",
    "max_stock",
)
LOTS = ("min_lot", "lot_rounding", "max_stock")


class WritebackRefused(DomainError):
    status_code = 422
    title = "Write-back refused"


def writeback_rows(changes: pl.DataFrame, erp: pl.DataFrame) -> pl.DataFrame:
    """``changes`` (reconciliation rows: key, ``proposed_*``, ``erp_uom``, ``factor``) with
    the rest of each ERP record as it stands (``erp``: the ERP's parameters in base units),
    lot sizes back in the ERP's unit."""
    rest = erp.select(
        "sku",
        "location_code",
        "planned_delivery_days",
        "goods_receipt_days",
        "days_basis",
        *LOTS,
    )
    joined = changes.join(rest, on=["sku", "location_code"], how="left")
    per = pl.col("factor").fill_null(1.0)
    return joined.with_columns([(pl.col(c) / per).round(3).alias(c) for c in LOTS])


def _number(column: str, decimal: str) -> pl.Expr:
    # Three decimals at most, no trailing zeros, no exponent: "126", "10,5"
    text = pl.col(column).round(3).cast(pl.String).str.replace(r"\.0+$", "")
    text = text.str.replace(r"(\.\d*?)0+$", "$1")
    return text.str.replace(".", decimal, literal=True) if decimal != "." else text


def _reversed(profile: Profile, attribute: str, source: str) -> pl.Expr:
    """The profile's translation of ``attribute`` reversed (first source value wins)."""
    back: dict[str, str] = {}
    for raw, value in profile.values.get(attribute, {}).items():
        back.setdefault(value, raw)
    return pl.col(source).replace(back) if back else pl.col(source)


def writeback_file(rows: pl.DataFrame, profile: Profile) -> bytes:
    """``rows``: from :func:`writeback_rows` (columns it lacks are written empty)."""
    if profile.entity != "erp_parameters":
        raise WritebackRefused(
            f"profile '{profile.name}' maps {profile.entity}; choose an erp_parameters profile"
        )
    options = profile.options
    columns = []
    for attribute, source in WRITTEN.items():
        if source not in rows.columns:
            rows = rows.with_columns(pl.lit(None, pl.String).alias(source))
        value = (
            _number(source, options.decimal)
            if attribute in NUMBERS and rows.schema[source] != pl.String
            else _reversed(profile, attribute, source)
        )
        columns.append(value.cast(pl.String).alias(profile.source_column(attribute)))
    text = rows.select(columns).write_csv(
        separator=options.delimiter, quote_style="necessary", null_value=""
    )
    try:
        return b"".join(encode_chunks([text], options.encoding))
    except UnicodeEncodeError as exc:
        raise WritebackRefused(
            f"a value cannot be written in the profile's encoding {options.encoding}: "
            f"{exc.object[exc.start : exc.end]!r}"
        ) from None
