"""How names, identifiers and codes are made comparable before golden-record matching."""

from __future__ import annotations

import polars as pl

# Legal forms and filler words dropped from names before comparing them.
# fmt: off
LEGAL_FORMS = (
    "gmbh", "mbh", "ag", "kg", "kgaa", "se", "inc", "incorporated", "corp", "corporation",
    "ltd", "limited", "llc", "llp", "lp", "plc", "sa", "sas", "sarl", "srl", "spa", "bv", "nv",
    "oy", "ab", "co", "company", "and", "und", "the",
)
# fmt: on

GTIN_LENGTHS = (8, 12, 13, 14)


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr != "").then(expr)  # keeps the column name; else null


def normalise_name(expr: pl.Expr, strip_legal_forms: bool = True) -> pl.Expr:
    """Lower case, no diacritics, no punctuation or legal form, single spaces."""
    out = expr.str.normalize("NFKD").str.replace_all(r"\p{M}+", "").str.to_lowercase()
    # Dots and apostrophes join abbreviations ("S.A." -> "sa") instead of splitting them.
    out = out.str.replace_all("[.'\u2019]", "").str.replace_all(r"[^\p{L}\p{N}]+", " ")
    if strip_legal_forms:
        out = out.str.replace_all(rf"\b(?:{'|'.join(LEGAL_FORMS)})\b", " ")
    out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    # Quantities are written "5 L" and "5L" alike.
    return _blank_to_null(out.str.replace_all(r"(\d) (\p{L})", "${1}${2}"))


def normalise_tax_id(expr: pl.Expr) -> pl.Expr:
    return _blank_to_null(expr.str.replace_all(r"[^0-9A-Za-z]", "").str.to_uppercase())


def normalise_duns(expr: pl.Expr) -> pl.Expr:
    # Spreadsheets drop leading zeros; a DUNS number always has nine digits.
    return _blank_to_null(expr.str.replace_all(r"\D", "")).str.zfill(9)


def normalise_gtin(expr: pl.Expr) -> pl.Expr:
    """GTIN-8/12/13/14 (EAN, UPC) as the 14-digit form; anything else is no identifier."""
    digits = expr.str.replace_all(r"\D", "")
    valid = digits.str.len_chars().is_in(GTIN_LENGTHS)
    return pl.when(valid).then(digits.str.zfill(14))


def normalise_code(expr: pl.Expr) -> pl.Expr:
    return _blank_to_null(expr.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", ""))
