"""Vectorised validation: every problem of a chunk found at once, each with its line, column,
value and reason; then the typed, normalised frame that will be written.

Nothing here touches the database: existing keys, products and unit conversions arrive as
``Lookups`` loaded once per import.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import polars as pl

from tierline.masterdata.importing.entities import EntitySpec, Field
from tierline.masterdata.importing.reader import BLANK, LINE, FileRejected
from tierline.masterdata.profiles.definition import FileOptions, Profile

ERROR_SCHEMA = {"line": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}
FUTURE_TOLERANCE_DAYS = 1
# What the columns hold unless a field says otherwise: numeric(18,4), integer.
DECIMAL_MAX = 99_999_999_999_999.0
INT_MAX = 2_147_483_647
OLDEST_DATE = dt.date(1970, 1, 1)
TRUE_WORDS = ["true", "t", "1", "yes", "y", "x", "ja", "oui"]
FALSE_WORDS = ["false", "f", "0", "no", "n", "nein", "non"]
_BOOL_WORDS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_CONTROLS = "control characters are not allowed"
CONTROL_OR_DEL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# Columns an entity keeps as extra attributes (JSON beside its row): how many, how long a
# name and a value may be. A file is an ERP table's export, not a place for 100,000 columns.
MAX_EXTRA_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_VALUE = 1000
_TOO_LONG = f"longer than {MAX_ATTRIBUTE_VALUE:,} characters (the limit for an extra attribute)"
# What ERPs write for "no date": SAP's initial date, in its display and internal forms.
INITIAL_DATES = ("00.00.0000", "00000000", "0000-00-00", "00/00/0000")
_SCOPE_CLEAN = r"[^a-z0-9_]"


def empty_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


_NO_PRODUCTS = pl.DataFrame(schema={"sku": pl.String, "base_uom": pl.String})
_NO_CONVERSIONS = pl.DataFrame(
    schema={"sku": pl.String, "uom": pl.String, "factor": pl.Float64, "denominator": pl.Float64}
)


@dataclass
class Lookups:
    """What validation needs from the database, loaded once per import."""

    keys: dict[str, pl.Series] = field(default_factory=dict)  # "table.column" -> values
    products: pl.DataFrame | None = None  # sku, base_uom
    conversions: pl.DataFrame | None = None  # sku, uom, factor, denominator
    lanes: pl.DataFrame | None = None  # location_code, source_code, source_kind (stored lanes)
    _factors: pl.DataFrame | None = field(default=None, repr=False)

    def known(self, table: str, column: str) -> pl.Series:
        return self.keys.get(f"{table}.{column}", pl.Series([], dtype=pl.String))

    def factors(self) -> pl.DataFrame:
        """``sku, __unit, __factor, __per``: one unit holds ``__factor / __per`` base units,
        for every unit a product can be ordered in (its base unit at 1/1). Kept as the two
        numbers so a quantity is multiplied, then divided once (10/9 is no decimal). Built once
        per import."""
        if self._factors is None:
            products = self.products if self.products is not None else _NO_PRODUCTS
            conversions = self.conversions if self.conversions is not None else _NO_CONVERSIONS
            base = products.select(
                "sku",
                pl.col("base_uom").alias("__unit"),
                pl.lit(1.0).alias("__factor"),
                pl.lit(1.0).alias("__per"),
            )
            other = (
                conversions.join(products, on="sku")
                .filter(pl.col("uom") != pl.col("base_uom"))
                .select(
                    "sku",
                    pl.col("uom").alias("__unit"),
                    pl.col("factor").alias("__factor"),
                    pl.col("denominator").alias("__per"),
                )
            )
            self._factors = pl.concat([base, other])
        return self._factors

    def units(self) -> pl.Series:
        parts = []
        if self.products is not None:
            parts.append(self.products["base_uom"])
        if self.conversions is not None:
            parts.append(self.conversions["uom"])
        return pl.concat(parts).unique() if parts else pl.Series([], dtype=pl.String)


def extra_columns(columns: list[str], profile: Profile, spec: EntitySpec) -> list[str]:
    """The columns no attribute maps (kept as extra attributes where the entity keeps them);
    ``profile`` resolved to the header (``Profile.for_header``)."""
    used = {profile.source_column(f.name) for f in spec.fields}
    return [
        c for c in columns if c not in used and c != LINE and c.strip() and not c.startswith(BLANK)
    ]


def check_header(header: list[str], profile: Profile, spec: EntitySpec) -> None:
    """Refuse a file that lacks a required column (with a hint when the delimiter is wrong),
    or whose extra columns the entity could not keep: too many, names too long or holding
    control characters."""
    _check_missing(header, profile, spec)
    columns = [c for c in header if c != LINE]
    bad = [f"column {i} ('{_shown(c)}')" for i, c in enumerate(columns, start=1) if _has_control(c)]
    if bad:
        raise FileRejected(f"control characters in the header: {', '.join(bad[:10])}")
    if not spec.extra_attributes:
        return  # columns the entity does not map are not read at all
    extras = extra_columns(columns, profile, spec)
    if len(extras) > MAX_EXTRA_ATTRIBUTES:
        raise FileRejected(
            f"{len(extras):,} columns are not mapped to an attribute of {spec.name} (kept as "
            f"extra attributes): at most {MAX_EXTRA_ATTRIBUTES} are accepted; leave out "
            f"columns you do not need (the first unmapped: {', '.join(extras[:5])}, …)"
        )
    long = [
        f"column {columns.index(c) + 1} ('{_shown(c)}…')"
        for c in extras
        if len(c) > MAX_ATTRIBUTE_NAME
    ]
    if long:
        raise FileRejected(
            f"extra attribute names may be at most {MAX_ATTRIBUTE_NAME} characters long: "
            f"{', '.join(long[:10])}"
        )


def _has_control(text: str) -> bool:
    """The characters values may not hold either (``_CONTROL``)."""
    return re.search(_CONTROL, text) is not None


def _shown(name: str) -> str:
    return "".join(
        ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name[:MAX_ATTRIBUTE_NAME]
    )


def _check_missing(header: list[str], profile: Profile, spec: EntitySpec) -> None:
    present = set(header)
    missing = [
        " or ".join(profile.candidates(f))
        + (f" (for {f})" if profile.source_column(f) != f else "")
        for f in spec.required
        if not present.intersection(profile.candidates(f))
    ]
    if not missing:
        return
    hint = ""
    if len(header) == 1:
        for candidate in (";", ",", "\t", "|"):
            if candidate in header[0] and candidate != profile.options.delimiter:
                shown = "tab" if candidate == "\t" else f"'{candidate}'"
                hint = f"; the header is one column — is the delimiter {shown}?"
                break
    elif not (present & {profile.source_column(f.name) for f in spec.fields}):
        hint = f"; none of the {spec.name} columns were found — is this a {spec.name} file?"
    raise FileRejected(f"missing required column(s): {', '.join(missing)}{hint}")


def map_columns(chunk: pl.DataFrame, profile: Profile, spec: EntitySpec) -> pl.DataFrame:
    """Rename source columns to attributes, translate values, keep extras as ``__extra``."""
    exprs: list[pl.Expr] = [pl.col(LINE).cast(pl.Int64)]
    for f in spec.fields:
        source = profile.source_column(f.name)
        if source in chunk.columns:
            expr = pl.col(source).str.strip_chars()
            mapping = profile.values.get(f.name)
            if mapping:
                expr = expr.fill_null("").replace(mapping)
            # Empty means absent (also once translated); so is an ERP's initial date.
            absent = [""] if f.kind != "date" else ["", *INITIAL_DATES]
            exprs.append(expr.replace(absent, None).alias(f.name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(f.name))
    extras = extra_columns(chunk.columns, profile, spec)
    if spec.extra_attributes and extras:
        exprs.append(
            pl.struct([pl.col(c).str.strip_chars().alias(c) for c in extras])
            .struct.json_encode()
            .alias("__extra")
        )
    elif spec.extra_attributes:
        exprs.append(pl.lit("{}").alias("__extra"))
    return chunk.select(exprs)


def extra_errors(
    chunk: pl.DataFrame, profile: Profile, spec: EntitySpec, control: bool
) -> pl.DataFrame:
    """Extra attributes' values that are too long, or (``control``) hold control characters
    (NUL cannot even be stored), each with its line and column."""
    extras = extra_columns(chunk.columns, profile, spec) if spec.extra_attributes else []
    if not extras:
        return empty_errors()
    frame = chunk.select(
        pl.col(LINE).cast(pl.Int64), *[pl.col(c).str.strip_chars() for c in extras]
    )
    checks = [(pl.col(c).str.len_chars() > MAX_ATTRIBUTE_VALUE, c, _TOO_LONG) for c in extras]
    if control:
        checks += [(pl.col(c).str.contains(_CONTROL), c, _CONTROLS) for c in extras]
    hits = frame.select(
        [mask.fill_null(False).any().alias(str(i)) for i, (mask, _, _) in enumerate(checks)]
    ).row(0)
    found = [
        _errors(frame, mask.fill_null(False), column, reason)
        for hit, (mask, column, reason) in zip(hits, checks, strict=True)
        if hit
    ]
    return pl.concat(found) if found else empty_errors()


def _errors(frame: pl.DataFrame, mask: pl.Expr, column: str, reason: str | pl.Expr) -> pl.DataFrame:
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return frame.filter(mask).select(
        pl.col(LINE).alias("line"),
        pl.lit(column).alias("column"),
        pl.col(column).cast(pl.String).str.slice(0, 200).alias("value"),
        reason_expr.cast(pl.String).alias("reason"),
    )


def _number_text(f: Field, options: FileOptions) -> pl.Expr:
    text = pl.col(f.name)
    if options.decimal == ",":
        text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return text


def typed_expr(f: Field, options: FileOptions) -> pl.Expr:
    """The typed value of a field (null where the text does not parse)."""
    col = pl.col(f.name)
    if f.kind == "int":
        return col.cast(pl.Int64, strict=False)
    if f.kind == "decimal" and f.scale is not None:
        return _number_text(f, options).cast(pl.Decimal(38, f.scale), strict=False)
    if f.kind in ("decimal", "money"):
        return _number_text(f, options).cast(pl.Float64, strict=False)
    if f.kind == "date":
        return col.str.to_date(options.date_format or "%Y-%m-%d", strict=False)
    if f.kind == "datetime":
        return _datetime(col)
    if f.kind == "bool":
        lowered = col.str.to_lowercase()
        return lowered.replace_strict(_BOOL_WORDS, default=None, return_dtype=pl.Boolean)
    if f.lower:
        return col.str.to_lowercase()
    if f.upper:
        return col.str.to_uppercase()
    return col


def _datetime(col: pl.Expr) -> pl.Expr:
    """ISO 8601 with an offset (or Z), or without one (read as UTC), or a bare date."""

    def utc(e: pl.Expr) -> pl.Expr:
        return e.dt.convert_time_zone("UTC")

    return pl.coalesce(
        [
            _iso_datetime(col),
            utc(
                col.str.replace(r"Z$", "+00:00").str.to_datetime(
                    "%Y-%m-%dT%H:%M:%S%z", strict=False, time_unit="us"
                )
            ),
            col.str.to_datetime(
                "%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"
            ).dt.replace_time_zone("UTC"),
            col.str.to_datetime(
                "%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us"
            ).dt.replace_time_zone("UTC"),
            col.str.to_date("%Y-%m-%d", strict=False)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
        ]
    )


def _iso_datetime(col: pl.Expr) -> pl.Expr:
    """The first (and usual) form: ISO 8601 with an offset."""
    # Parsed straight into UTC: a fifth faster than parsing, then converting.
    return col.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC"
    )


_KIND_WORDS = {
    "int": "not a whole number",
    "decimal": "not a number",
    "money": "not a number",
    "date": "not a date",
    "datetime": "not a date and time (use ISO 8601, e.g. 2026-03-31T14:00:00Z)",
    "bool": "not yes/no (use true/false, yes/no or 1/0)",
}


def _field_checks(
    f: Field, typed: pl.Expr, options: FileOptions, control: bool = True
) -> list[tuple[pl.Expr, str, str]]:
    """(mask, column, reason) of every check of one field; ``typed`` is its typed value."""
    col, present = pl.col(f.name), pl.col(f.name).is_not_null()
    checks = []
    if f.required:
        checks.append((col.is_null(), f.name, "required value is missing"))
    if control:
        checks.append((present & col.str.contains(_CONTROL), f.name, _CONTROLS))
    if f.kind in _KIND_WORDS:
        reason = _KIND_WORDS[f.kind]
        if f.kind == "date":
            reason += f" (expected {_date_hint(options)})"
        checks.append((present & typed.is_null(), f.name, reason))
    if f.scale is not None:
        # A digit other than 0 past the scale would be rounded away by the cast: refused.
        past = _number_text(f, options).str.contains(rf"\.\d{{{f.scale}}}\d*[1-9]")
        checks.append((present & past, f.name, f"more than {f.scale} decimal places"))
    if f.max_len is not None:
        checks.append(
            (
                present & (col.str.len_chars() > f.max_len),
                f.name,
                f"longer than {f.max_len} characters",
            )
        )
    if f.choices is not None:
        bad = present & ~typed.is_in(list(f.choices))
        checks.append((bad, f.name, f"must be one of: {', '.join(f.choices)}"))
    if f.minimum is not None:
        checks.append(
            (
                typed.is_not_null() & (typed < f.minimum),
                f.name,
                "must not be negative" if f.minimum == 0 else f"must be at least {f.minimum:g}",
            )
        )
    if f.kind in ("int", "decimal"):
        checks.append(_size_check(f, typed))
    if f.kind == "date":
        checks.append((typed < OLDEST_DATE, f.name, "implausible date (before 1970)"))
    return checks


def _size_check(f: Field, typed: pl.Expr) -> tuple[pl.Expr, str, str]:
    """Numbers too large for their column: refused here, by line, rather than by the database
    halfway through writing."""
    default = INT_MAX if f.kind == "int" else DECIMAL_MAX
    limit = f.maximum if f.maximum is not None else default
    if f.kind == "int" or limit != DECIMAL_MAX:
        reason = f"too large (at most {limit:,.0f})"
    else:
        reason = "too large (at most 14 digits before the decimal point)"
    return (typed.abs() > limit, f.name, reason)


def _date_hint(options: FileOptions) -> str:
    fmt = options.date_format or "%Y-%m-%d"
    return fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")


_TYPED = "__typed:"


def field_errors(
    frame: pl.DataFrame,
    spec: EntitySpec,
    options: FileOptions,
    today: dt.date,
    typed: pl.DataFrame | None = None,
    scan_control: bool = True,
) -> pl.DataFrame:
    """Every field problem of the chunk. ``typed`` (from :func:`typed_frame` on the same rows)
    saves parsing every column a second time; all checks are evaluated in one pass and only
    the ones that hit build an error frame. ``scan_control=False`` skips looking for control
    characters: the caller knows the text has none (see ``reader.has_control_bytes``)."""
    if typed is None:
        typed = typed_frame(frame, spec, options)
    both = frame.with_columns(
        typed.select([pl.col(f.name).alias(_TYPED + f.name) for f in spec.fields]).get_columns()
    )
    texts = [f.name for f in spec.fields if frame.schema.get(f.name) == pl.String]
    # One scan for control characters in any field; the per-field checks only on a hit.
    control = bool(
        scan_control
        and texts
        and both.select(
            pl.concat_str(texts, separator="\n", ignore_nulls=True).str.contains(_CONTROL).any()
        ).item()
    )
    checks: list[tuple[pl.Expr, str, str]] = []
    for f in spec.fields:
        checks += _field_checks(f, pl.col(_TYPED + f.name), options, control)
    if spec.date_field:
        limit = today + dt.timedelta(days=FUTURE_TOLERANCE_DAYS)
        checks.append(
            (
                pl.col(_TYPED + spec.date_field) > limit,
                spec.date_field,
                f"date is in the future (more than {FUTURE_TOLERANCE_DAYS} day ahead)",
            )
        )
    if not checks:
        return empty_errors()
    hits = both.select(
        [mask.fill_null(False).any().alias(str(i)) for i, (mask, _, _) in enumerate(checks)]
    ).row(0)
    found = [
        _errors(both, mask.fill_null(False), column, reason)
        for hit, (mask, column, reason) in zip(hits, checks, strict=True)
        if hit
    ]
    return pl.concat(found) if found else empty_errors()


def reference_errors(frame: pl.DataFrame, spec: EntitySpec, lookups: Lookups) -> pl.DataFrame:
    """References to rows that exist neither in the database nor (self-references) the file."""
    found = []
    for ref in spec.references:
        if ref.table == spec.table:
            continue  # self-references are checked once the whole file is known
        known = lookups.known(ref.table, ref.column)
        col = pl.col(ref.field)
        bad = col.is_not_null() & ~col.is_in(known.implode())
        found.append(_errors(frame, bad, ref.field, pl.format(f"unknown {ref.label} '{{}}'", col)))
    return pl.concat(found) if found else empty_errors()


def unit_conversion(
    frame: pl.DataFrame, spec: EntitySpec, lookups: Lookups
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Attach ``__factor`` and ``__per`` (one ordered unit holds ``__factor / __per`` base
    units); errors for unknown units or a missing conversion. Never a silent 1:1."""
    assert spec.uom is not None
    _, unit_field, sku_field = spec.uom
    if not spec.field(unit_field).required:
        # An optional unit left empty is the product's base unit (an SAP MARC export carries
        # no unit: its quantities are in MARA-MEINS).
        products = lookups.products if lookups.products is not None else _NO_PRODUCTS
        frame = (
            frame.join(products.rename({"sku": sku_field}), on=sku_field, how="left")
            .with_columns(pl.col(unit_field).fill_null(pl.col("base_uom")))
            .drop("base_uom")
        )
    joined = frame.with_columns(pl.col(unit_field).str.to_uppercase().alias("__unit")).join(
        lookups.factors().rename({"sku": sku_field}), on=[sku_field, "__unit"], how="left"
    )
    unconverted = pl.col("__unit").is_not_null() & pl.col("__factor").is_null()
    if not joined.select(unconverted.any()).item():
        return joined.drop("__unit"), empty_errors()
    return joined.drop("__unit"), _unit_errors(joined.filter(unconverted), spec, lookups)


def _unit_errors(unconverted: pl.DataFrame, spec: EntitySpec, lookups: Lookups) -> pl.DataFrame:
    """Why each row's unit did not convert: a unit nobody uses, or no conversion for this
    product (a row whose product is unknown is reported by the reference check)."""
    assert spec.uom is not None
    _, unit_field, sku_field = spec.uom
    products = lookups.products if lookups.products is not None else _NO_PRODUCTS
    rows = unconverted.join(products.rename({"sku": sku_field}), on=sku_field, how="left")
    unknown_unit = ~pl.col("__unit").is_in(lookups.units().implode())
    no_conversion = pl.col("base_uom").is_not_null() & ~unknown_unit
    return pl.concat(
        [
            _errors(
                rows, unknown_unit, unit_field, pl.format("unknown unit '{}'", pl.col("__unit"))
            ),
            _errors(
                rows,
                no_conversion,
                unit_field,
                pl.format(
                    "no conversion from {} to base unit {} for SKU {}",
                    pl.col("__unit"),
                    pl.col("base_uom"),
                    pl.col(sku_field),
                ),
            ),
        ]
    )


def duplicate_errors(keys: pl.DataFrame, spec: EntitySpec) -> pl.DataFrame:
    """Rows whose natural key appears more than once in the file."""
    key = list(spec.key)
    dup = keys.filter(pl.struct(key).is_duplicated())
    if dup.is_empty():
        return empty_errors()
    first = dup.group_by(key).agg(pl.col(LINE).min().alias("__first"))
    dup = dup.join(first, on=key).filter(pl.col(LINE) != pl.col("__first"))
    label = ", ".join(key)
    return dup.select(
        pl.col(LINE).alias("line"),
        pl.lit(label).alias("column"),
        pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator=" / ").alias("value"),
        pl.format("duplicate key in the file (first on line {})", pl.col("__first")).alias(
            "reason"
        ),
    )


def self_reference_errors(codes: pl.DataFrame, spec: EntitySpec, lookups: Lookups) -> pl.DataFrame:
    """Self-references (a parent customer) must exist in the database or in the same file."""
    found = []
    for ref in spec.references:
        if ref.table != spec.table or ref.field not in codes.columns:
            continue
        known = pl.concat([lookups.known(ref.table, ref.column), codes[ref.column]]).implode()
        col = pl.col(ref.field)
        found.append(
            _errors(
                codes,
                col.is_not_null() & ~col.is_in(known),
                ref.field,
                pl.format(f"unknown {ref.label} '{{}}'", col),
            )
        )
    return pl.concat(found) if found else empty_errors()


def derived_errors(frame: pl.DataFrame, spec: EntitySpec) -> pl.DataFrame:
    if spec.name == "promotions":
        bad = pl.col("ends_on") < pl.col("starts_on")
        return _errors(frame, bad, "ends_on", "ends before it starts")
    if spec.name == "erp_parameters":
        # SAP writes 0 for "no maximum"
        bad = (pl.col("max_stock") > 0) & (pl.col("max_stock") < pl.col("reorder_point"))
        return _errors(frame, bad, "max_stock", "maximum stock level below the reorder point")
    if spec.name == "lead_times":
        bad = pl.col("received_on") < pl.col("ordered_on")
        return _errors(frame, bad, "received_on", "received before it was ordered")
    if spec.name == "order_lines":
        found = _converted_size_errors(frame, spec)
        found += [
            _errors(
                frame,
                pl.col("margin") > pl.col("revenue").abs() * 1.0001,
                "margin",
                "margin is larger than revenue",
            ),
            _errors(
                frame,
                pl.col("delivered_date") < pl.col("order_date"),
                "delivered_date",
                "delivered before it was ordered",
            ),
        ]
        return pl.concat(found)
    return empty_errors()


def _converted_size_errors(frame: pl.DataFrame, spec: EntitySpec) -> list[pl.DataFrame]:
    """Quantities that fit as ordered but not once converted to the base unit."""
    if spec.uom is None or "__factor" not in frame.columns:
        return []
    return [
        _errors(
            frame,
            # (a value too large as ordered is reported once, by its field check)
            (pl.col(q).abs() <= DECIMAL_MAX) & (base_quantity(pl.col(q)).abs() > DECIMAL_MAX),
            q,
            "too large once converted to the base unit",
        )
        for q in (spec.uom[0], *spec.extra_quantities)
    ]


def base_quantity(quantity: pl.Expr) -> pl.Expr:
    """A quantity in the product's base unit (after :func:`unit_conversion`): multiplied by
    the factor's numerator, divided once by its denominator."""
    return quantity * pl.col("__factor") / pl.col("__per")


def typed_frame(frame: pl.DataFrame, spec: EntitySpec, options: FileOptions) -> pl.DataFrame:
    """Attribute columns converted to their types (null where a value does not parse).

    A date-time column is first parsed with the common ISO 8601 form alone; only when that
    leaves values unparsed are all accepted forms tried (parsing five ways is the costliest
    step of validating a large file)."""
    exprs: list[pl.Expr | pl.Series] = []
    for f in spec.fields:
        if f.kind == "datetime" and f.name in frame.columns:
            fast = frame.select(_iso_datetime(pl.col(f.name)).alias(f.name)).to_series()
            if fast.null_count() == frame[f.name].null_count():
                exprs.append(fast)
                continue
        exprs.append(typed_expr(f, options).alias(f.name))
    return frame.with_columns(exprs)


def scope_expr(spec: EntitySpec) -> pl.Expr:
    """The business scope owning a row: its business unit, else its region, else ``*``."""
    candidates = [c for c in ("business_unit", "region") if c in {f.name for f in spec.fields}]
    raw = pl.coalesce([pl.col(c) for c in candidates] + [pl.lit("*")])
    cleaned = raw.str.to_lowercase().str.replace_all(_SCOPE_CLEAN, "_").str.slice(0, 40)
    return pl.when(raw == "*").then(pl.lit("*")).otherwise(cleaned).alias("scope")


def lane_source_errors(frame: pl.DataFrame, spec: EntitySpec, lookups: Lookups) -> pl.DataFrame:
    """A lane's source must exist as what ``source_kind`` says it is: a supplier or a
    location (a location also must not source itself)."""
    if spec.name != "sourcing_lanes":
        return empty_errors()
    kind, source = pl.col("source_kind"), pl.col("source_code")
    suppliers = lookups.known("suppliers", "code").implode()
    locations = lookups.known("locations", "code").implode()
    return pl.concat(
        [
            _errors(
                frame,
                (kind == "supplier") & ~source.is_in(suppliers),
                "source_code",
                pl.format("unknown supplier '{}'", source),
            ),
            _errors(
                frame,
                (kind == "location") & ~source.is_in(locations),
                "source_code",
                pl.format("unknown location '{}'", source),
            ),
        ]
    )


def lane_cycle_errors(keys: pl.DataFrame, lookups: Lookups) -> pl.DataFrame:
    """Lanes between locations that would close a cycle (A sources B sources A), with the
    cycle named, on each line of the file that takes part in it."""
    from tierline.masterdata.network.lanes import find_cycles

    stored = (
        lookups.lanes
        if lookups.lanes is not None
        else pl.DataFrame(
            schema={"location_code": pl.String, "source_code": pl.String, "source_kind": pl.String}
        )
    )
    filed = keys.select(LINE, "location_code", "source_code", "source_kind")
    kept = stored.join(filed, on=["location_code", "source_code"], how="anti")
    edges = pl.concat(
        [filed, kept.with_columns(pl.lit(None, pl.Int64).alias(LINE))], how="diagonal"
    )
    edges = edges.filter(pl.col("source_kind") == "location")
    cycles = find_cycles(list(zip(edges["location_code"], edges["source_code"], strict=True)))
    if not cycles:
        return empty_errors()
    lines: dict[tuple[str, str], int] = {
        (loc, src): line
        for loc, src, line in zip(
            filed["location_code"], filed["source_code"], filed[LINE], strict=True
        )
    }
    rows: list[dict[str, object]] = []
    for cycle in cycles:
        named = " ← ".join([*cycle, cycle[0]])
        for at, location in enumerate(cycle):
            line = lines.get((location, cycle[(at + 1) % len(cycle)]))
            if line is not None:
                rows.append(
                    {
                        "line": line,
                        "column": "source_code",
                        "value": cycle[(at + 1) % len(cycle)],
                        "reason": f"lane cycle: {named}",
                    }
                )
    return pl.DataFrame(rows, schema=ERROR_SCHEMA) if rows else empty_errors()
