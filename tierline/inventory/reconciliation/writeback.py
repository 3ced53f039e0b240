"""The write-back file: the approved changes in the layout of the ERP's parameters profile
(the SAP MARC preset by default: ``MATNR;WERKS;DISMM;MINBE;EISBE;MEINS``, decimal comma), in
the profile's delimiter, decimal mark and encoding, so the ERP's own upload reads it."""

from __future__ import annotations

import polars as pl

from tierline.masterdata.service import Profile
from tierline.platform.downloads import encode_chunks
from tierline.platform.errors import DomainError

# Attribute -> the reconciliation column it is written from
WRITTEN = {
    "sku": "sku",
    "location_code": "location_code",
    "mrp_type": "proposed_mrp_type",
    "reorder_point": "proposed_reorder_point",
    "safety_stock": "proposed_safety_stock",
    "uom": "erp_uom",
}
NUMBERS = ("reorder_point", "safety_stock")


class WritebackRefused(DomainError):
    status_code = 422
    title = "Write-back refused"


def _number(column: str, decimal: str) -> pl.Expr:
    # Three decimals at most, no trailing zeros, no exponent: "126", "10,5"
    text = pl.col(column).round(3).cast(pl.String).str.replace(r"\.0+$", "")
    text = text.str.replace(r"(\.\d*?)0+$", "$1")
    return text.str.replace(".", decimal, literal=True) if decimal != "." else text


def writeback_file(changes: pl.DataFrame, profile: Profile) -> bytes:
    """``changes``: reconciliation rows (``compare.reconcile``) to write, in their order."""
    if profile.entity != "erp_parameters":
        raise WritebackRefused(
            f"profile '{profile.name}' maps {profile.entity}; choose an erp_parameters profile"
        )
    options = profile.options
    frame = changes.select(
        *[
            (_number(source, options.decimal) if attribute in NUMBERS else pl.col(source))
            .cast(pl.String)
            .alias(profile.source_column(attribute))
            for attribute, source in WRITTEN.items()
        ]
    )
    text = frame.write_csv(separator=options.delimiter, quote_style="necessary", null_value="")
    try:
        return b"".join(encode_chunks([text], options.encoding))
    except UnicodeEncodeError as exc:
        raise WritebackRefused(
            f"a value cannot be written in the profile's encoding {options.encoding}: "
            f"{exc.object[exc.start : exc.end]!r}"
        ) from None
