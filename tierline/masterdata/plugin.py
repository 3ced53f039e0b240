"""What master data adds: ``tierline import`` and its pages in the menu."""

from tierline.platform.navigation import NavItem
from tierline.platform.plugins import Command, Plugin

PLUGIN = Plugin(
    api_tag="master data",
    api_description="Customers, products and order lines; imports, steward reviews, "
    "data quality, jobs.",
    commands=(Command("import", "tierline.masterdata.importing.cli:import_file"),),
    navigation=(
        NavItem(
            "Customers",
            "customers",
            "masterdata:read",
            "Search accounts by code or name; hierarchy, sources and twelve months of orders.",
            10,
            group="Data",
        ),
        NavItem(
            "Products",
            "products",
            "masterdata:read",
            "Search SKUs; unit conversions, sources and twelve months of demand.",
            20,
            group="Data",
        ),
        NavItem(
            "Imports",
            "imports",
            "imports:run",
            "Load ERP exports (CSV/XLSX) with full validation and error reports.",
            30,
            group="Data",
        ),
        NavItem(
            "Data quality",
            "data-quality",
            "dataquality:read",
            "Stale feeds, estimated margins, implausible values, missing attributes.",
            35,
            group="Data",
        ),
        NavItem(
            "Data steward",
            "steward",
            "steward:resolve",
            "Resolve ambiguous golden-record matches.",
            40,
            group="Data",
        ),
    ),
)
