"""The profiles Tierline ships: a generic CSV layout per entity (columns named like the
attributes) and SAP-style customer-master (KNA1/KNVV) and material-master (MARA/MAKT/MARM)
exports. A profile a tenant saves under a preset's name overrides the preset.

The SAP presets read files as SAP GUI and SE16N save them: semicolon- or tab-separated (the
header line tells), UTF-8, UTF-16 with its byte-order mark or Windows-1252, a title above the
header, blank lines at the end, technical field names (``KUNNR``) or the German labels SE16N
shows (``Kunde``), decimal comma, ``DD.MM.YYYY`` dates and ``00.00.0000`` for no date. A unit
conversion is ``UMREZ`` / ``UMREN`` (numerator and denominator, both kept).

The MRP-parameters preset reads a plant-material (MARC) export: ``DISMM`` MRP type (kept as
the SAP code; an unknown one is a row's error), ``MINBE`` reorder point, ``EISBE`` safety
stock, ``PLIFZ`` planned delivery days, ``WEBAZ`` goods-receipt days, ``BSTMI``/``BSTRF``/
``MABST`` minimum lot, rounding value and maximum stock level. Two columns MARC lacks may be added:
``MEINS``, the unit of the quantities (default the base unit), and ``DAY_UNIT``, ``KT``
calendar days (the default, as SAP counts ``PLIFZ``) or ``AT`` working days; any other
value is refused on its row. Tierline writes the ERP's changes back in the same layout."""

from __future__ import annotations

from typing import Any

from tierline.masterdata.importing.entities import ENTITIES, entity
from tierline.masterdata.profiles.definition import Profile, build_profile


def _generic(entity_name: str) -> Profile:
    return Profile(name=f"generic_{entity_name}", entity=entity_name, preset=True)


SAP_OPTIONS = {
    "delimiter": ";",
    "encoding": "utf-8",
    "decimal": ",",
    "date_format": "%d.%m.%Y",
    "detect": True,
}

_SAP_PRESETS: tuple[dict[str, Any], ...] = (
    {
        "name": "sap_customer_master",
        "entity": "customers",
        "columns": {
            "code": "KUNNR",
            "name": "NAME1",
            "country": "LAND1",
            "postal_code": "PSTLZ",
            "tax_id": "STCD1",
            "account_type": "KTOKD",
            "business_unit": "VKORG",
            "channel": "VTWEG",
            "crm_tier": "KDGRP",
            "parent_code": "HKUNNR",
            "region": "BZIRK",
            "strategic": "KVGR1",
        },
        "values": {
            "account_type": {
                "0001": "sold_to",
                "0002": "ship_to",
                "0012": "parent",
                "0100": "global",
            },
            "channel": {"10": "retail", "20": "distributor", "30": "oem", "40": "ecommerce"},
            "strategic": {"S01": "true", "": "false"},
        },
        # The German labels SE16N shows instead of the field names (and English ones).
        "aliases": {
            "code": ["Kunde", "Debitor", "Kundennummer", "Customer"],
            "name": ["Name 1", "Name"],
            "country": ["Land", "Länderschlüssel", "Country Key"],
            "postal_code": ["Postleitzahl", "PLZ", "Postal Code"],
            "tax_id": ["Steuernummer 1", "Tax Number 1"],
            "account_type": ["Kontengruppe", "Account Group"],
            "business_unit": ["Verkaufsorganisation", "VkOrg", "Sales Organization"],
            "channel": ["Vertriebsweg", "Distribution Channel"],
            "crm_tier": ["Kundengruppe", "Customer Group"],
            "parent_code": ["Übergeordneter Kunde", "Higher-Level Customer"],
            "region": ["Verkaufsbezirk", "Sales District"],
            "strategic": ["Kundengruppe 1", "Customer Group 1"],
        },
        "options": SAP_OPTIONS,
    },
    {
        "name": "sap_material_master",
        "entity": "products",
        "columns": {
            "sku": "MATNR",
            "description": "MAKTX",
            "base_uom": "MEINS",
            "category": "MATKL",
            "product_line": "PRDHA",
            "lifecycle": "MSTAE",
            "business_unit": "SPART",
            "launch_date": "ERSDA",
        },
        "values": {
            "base_uom": {"ST": "EA", "KAR": "CS", "PAL": "PAL"},
            "lifecycle": {
                "": "active",
                "01": "npi",
                "Z1": "promotional",
                "Z2": "one_time_project",
                "99": "phase_out",
            },
        },
        "aliases": {
            "sku": ["Material", "Materialnummer", "Material Number"],
            "description": ["Materialkurztext", "Materialbezeichnung", "Material Description"],
            "base_uom": ["Basismengeneinheit", "BME", "Base Unit of Measure"],
            "category": ["Warengruppe", "Material Group"],
            "product_line": ["Produkthierarchie", "Product Hierarchy"],
            "lifecycle": ["Werksübergr. Materialstatus", "Materialstatus", "X-Plant Matl Status"],
            "business_unit": ["Sparte", "Division"],
            "launch_date": ["Angelegt am", "Erstellt am", "Created On"],
        },
        "options": SAP_OPTIONS,
    },
    {
        "name": "sap_material_units",
        "entity": "uom_conversions",
        # One alternative unit holds UMREZ / UMREN base units (10 / 9, 1 / 24: both kept).
        "columns": {"sku": "MATNR", "uom": "MEINH", "factor": "UMREZ", "denominator": "UMREN"},
        "values": {"uom": {"ST": "EA", "KAR": "CS"}},
        "aliases": {
            "sku": ["Material", "Materialnummer", "Material Number"],
            "uom": ["Alternative Mengeneinheit", "Alternativmengeneinheit", "AME", "Alt. Unit"],
            "factor": ["Zähler", "Numerator"],
            "denominator": ["Nenner", "Denominator"],
        },
        "options": SAP_OPTIONS,
    },
    {
        "name": "sap_mrp_parameters",
        "entity": "erp_parameters",
        "columns": {
            "sku": "MATNR",
            "location_code": "WERKS",
            "mrp_type": "DISMM",
            "reorder_point": "MINBE",
            "safety_stock": "EISBE",
            "planned_delivery_days": "PLIFZ",
            "goods_receipt_days": "WEBAZ",
            "min_lot": "BSTMI",
            "lot_rounding": "BSTRF",
            "max_stock": "MABST",
            "uom": "MEINS",
            "days_basis": "DAY_UNIT",
        },
        "values": {
            "days_basis": {"KT": "calendar", "AT": "working", "CD": "calendar", "WD": "working"},
            "uom": {"ST": "EA", "KAR": "CS"},
        },
        "aliases": {
            "sku": ["Material", "Materialnummer", "Material Number"],
            "location_code": ["Werk", "Plant"],
            "mrp_type": ["Dispomerkmal", "MRP Type", "MRP-Merkmal"],
            "reorder_point": ["Meldebestand", "Reorder Point"],
            "safety_stock": ["Sicherheitsbestand", "Safety Stock"],
            "planned_delivery_days": ["Planlieferzeit", "Planned Deliv. Time"],
            "goods_receipt_days": ["WE-Bearbeitungszeit", "GR Processing Time"],
            "min_lot": ["Mindestlosgröße", "Minimum Lot Size"],
            "lot_rounding": ["Rundungswert", "Rounding Value"],
            "max_stock": ["Höchstbestand", "Maximum Stock Level"],
            "uom": ["Basismengeneinheit", "Base Unit of Measure"],
            "days_basis": ["Tageseinheit", "Day Unit"],
        },
        "options": SAP_OPTIONS,
    },
)


def presets() -> dict[str, Profile]:
    found = {f"generic_{name}": _generic(name) for name in ENTITIES}
    for raw in _SAP_PRESETS:
        profile = build_profile(raw, preset=True)
        found[profile.name] = profile
    return found


def default_profile_name(entity_name: str) -> str:
    return f"generic_{entity(entity_name).name}"
