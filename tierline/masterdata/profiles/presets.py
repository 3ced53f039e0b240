"""The profiles Tierline ships: a generic CSV layout per entity (columns named like the
attributes) and SAP-style customer-master (KNA1/KNVV) and material-master (MARA/MAKT/MARM)
exports. A profile a tenant saves under a preset's name overrides the preset."""

from __future__ import annotations

from typing import Any

from tierline.masterdata.importing.entities import ENTITIES, entity
from tierline.masterdata.profiles.definition import Profile, build_profile


def _generic(entity_name: str) -> Profile:
    return Profile(name=f"generic_{entity_name}", entity=entity_name, preset=True)


SAP_OPTIONS = {"delimiter": ";", "encoding": "utf-8", "decimal": ",", "date_format": "%d.%m.%Y"}

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
        "options": SAP_OPTIONS,
    },
    {
        "name": "sap_material_units",
        "entity": "uom_conversions",
        "columns": {"sku": "MATNR", "uom": "MEINH", "factor": "UMREZ"},
        "values": {"uom": {"ST": "EA", "KAR": "CS"}},
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
