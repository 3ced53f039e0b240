"""What a mapping profile says: which source column feeds which attribute, value translations,
and the file's format (delimiter, encoding, decimal mark, date format); checked when built."""

from __future__ import annotations

import codecs
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tierline.masterdata.importing.entities import entity

MAX_COLUMN_NAME = 200  # a source column's name, as ``import_errors.column_name`` holds it


class ProfileError(ValueError):
    """A mapping profile that cannot work; the message names the field."""


@dataclass(frozen=True)
class FileOptions:
    """How a file is written. Whatever the options, a byte-order mark (UTF-8, UTF-16) decides
    the encoding, lines above the header (a title) are skipped and blank lines ignored.

    ``detect``: read files as ERP front ends save them — the delimiter is whichever of the
    usual ones (``;``, tab, ``,``, ``|``) makes the header line name the columns, and a file
    without a byte-order mark that is not valid UTF-8 is read as Windows-1252. ``delimiter``
    and ``encoding`` still say how files are *written* for this profile (ERP write-back)."""

    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    date_format: str | None = None  # None: ISO 8601 (YYYY-MM-DD)
    sheet: str | None = None  # XLSX: sheet name (default: the first sheet)
    detect: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FileOptions:
        options = cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})
        options.validate()
        return options

    def validate(self) -> None:
        if len(self.delimiter) != 1 or self.delimiter in '"\r\n':
            raise ProfileError("options.delimiter: use one character such as , ; | or a tab")
        if self.decimal not in (".", ","):
            raise ProfileError("options.decimal: use '.' or ','")
        if self.decimal == self.delimiter:
            raise ProfileError("options.decimal: cannot be the same as the delimiter")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ProfileError(f"options.encoding: unknown encoding '{self.encoding}'") from None
        if self.date_format is not None and "%" not in self.date_format:
            raise ProfileError("options.date_format: use strftime codes, e.g. %d.%m.%Y")
        if not isinstance(self.detect, bool):
            raise ProfileError("options.detect: true or false")


@dataclass(frozen=True)
class Profile:
    name: str
    entity: str
    source_system: str = "erp"
    columns: dict[str, str] = field(default_factory=dict)  # attribute -> source column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # attribute -> {src: dst}
    options: FileOptions = field(default_factory=FileOptions)
    preset: bool = False
    # attribute -> other names its source column goes by (an SE16N export's German labels
    # instead of the technical field names): a file may use any one of them.
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def source_column(self, attribute: str) -> str:
        return self.columns.get(attribute, attribute)

    def candidates(self, attribute: str) -> tuple[str, ...]:
        """Every header name that feeds ``attribute``, the profile's own name first."""
        return (self.source_column(attribute), *self.aliases.get(attribute, ()))

    def for_header(self, header: list[str]) -> Profile:
        """This profile with each attribute mapped to the name its column has in ``header``
        (the first of :meth:`candidates` present); unchanged where none is."""
        present = set(header)
        found = {
            attribute: next(n for n in self.candidates(attribute) if n in present)
            for attribute in {*self.columns, *self.aliases}
            if any(n in present for n in self.candidates(attribute))
        }
        return dataclasses.replace(self, columns={**self.columns, **found})

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity": self.entity,
            "source_system": self.source_system,
            "columns": dict(self.columns),
            "values": {k: dict(v) for k, v in self.values.items()},
            "options": {k: getattr(self.options, k) for k in FileOptions.__dataclass_fields__},
            "aliases": {k: list(v) for k, v in self.aliases.items()},
            "preset": self.preset,
        }


def build_profile(raw: dict[str, Any], preset: bool = False) -> Profile:
    """Validate a profile document (from the page, the API or a preset)."""
    name = str(raw.get("name", "")).strip()
    if not name or len(name) > 100:
        raise ProfileError("name: 1-100 characters")
    spec = entity(str(raw.get("entity", "")))
    source_system = str(raw.get("source_system", "erp")).strip().lower() or "erp"
    if not source_system.replace("_", "").isalnum() or len(source_system) > 40:
        raise ProfileError("source_system: letters, digits and '_' (at most 40)")
    columns = {str(k): str(v).strip() for k, v in (raw.get("columns") or {}).items()}
    known = {f.name for f in spec.fields}
    for attribute, source in columns.items():
        if attribute not in known:
            raise ProfileError(
                f"columns.{attribute}: not an attribute of {spec.name} "
                f"(known: {', '.join(sorted(known))})"
            )
        if not source:
            raise ProfileError(f"columns.{attribute}: name the source column")
    values = {
        str(k): {str(a): str(b) for a, b in v.items()} for k, v in (raw.get("values") or {}).items()
    }
    for attribute in values:
        if attribute not in known:
            raise ProfileError(f"values.{attribute}: not an attribute of {spec.name}")
    aliases = _aliases(raw.get("aliases") or {}, known, spec.name)
    options = FileOptions.from_dict(raw.get("options") or {})
    return Profile(name, spec.name, source_system, columns, values, options, preset, aliases)


def _aliases(raw: Any, known: set[str], entity_name: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ProfileError("aliases: an object of attribute -> list of column names")
    found: dict[str, tuple[str, ...]] = {}
    for attribute, names in raw.items():
        if attribute not in known:
            raise ProfileError(f"aliases.{attribute}: not an attribute of {entity_name}")
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list | tuple) or not all(isinstance(n, str) for n in listed):
            raise ProfileError(f"aliases.{attribute}: a list of column names")
        cleaned = tuple(n.strip() for n in listed if n.strip())
        if any(len(n) > MAX_COLUMN_NAME for n in cleaned):
            raise ProfileError(f"aliases.{attribute}: at most {MAX_COLUMN_NAME} characters a name")
        found[str(attribute)] = cleaned
    return found
