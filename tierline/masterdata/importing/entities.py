"""What each importable entity looks like: its fields, natural key, references and secrets.

One declaration serves file imports, the real-time API and the error reports, so the rules
are the same whichever way data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tierline.masterdata.models import ACCOUNT_TYPES, LIFECYCLES, LOCATION_KINDS
from tierline.masterdata.network.models import CALENDARS, MRP_TYPES, SOURCE_KINDS, SUPPLY_KINDS

Kind = Literal["str", "int", "decimal", "date", "datetime", "bool", "money", "code"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "str"
    required: bool = False
    max_len: int | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    # The largest magnitude the column holds (None: the kind's default, see validate)
    maximum: float | None = None
    column: str | None = None  # the table column when it differs (e.g. money -> revenue_enc)
    lower: bool = False  # normalise to lower case (codes of enumerations, countries upper)
    upper: bool = False
    # Decimals kept exactly, with at most this many decimal places (typed as a polars Decimal,
    # never a float): unit conversion factors. None: a float, like quantities.
    scale: int | None = None

    @property
    def target(self) -> str:
        if self.column:
            return self.column
        return f"{self.name}_enc" if self.kind == "money" else self.name


@dataclass(frozen=True)
class Reference:
    field: str
    table: str
    column: str
    label: str  # how an error names the thing that is missing


@dataclass(frozen=True)
class EntitySpec:
    name: str
    table: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()
    extra_attributes: bool = False  # unmapped source columns are kept in ``attributes``
    date_field: str | None = None  # checked against the future tolerance
    scoped: bool = False  # has a derived ``scope`` column
    label: str = ""
    uom: tuple[str, str, str] | None = None  # (quantity field, unit field, sku field)
    extra_quantities: tuple[str, ...] = field(default_factory=tuple)  # same unit as quantity
    # Fields kept beside the key for the checks that need the whole file (lane cycles)
    whole_file: tuple[str, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def money(self) -> list[Field]:
        return [f for f in self.fields if f.kind == "money"]

    def row_key_expr(self) -> str:
        """How the encryption row key is spelled from the natural key (e.g. ``order/line``)."""
        return "/".join(self.key)


CODE = 100

CUSTOMERS = EntitySpec(
    name="customers",
    table="customers",
    key=("code",),
    label="customer",
    fields=(
        Field("code", "code", required=True, max_len=CODE),
        Field("name", required=True, max_len=300),
        Field("account_type", required=True, choices=ACCOUNT_TYPES, lower=True),
        Field("parent_code", "code", max_len=CODE),
        Field("global_account_code", "code", max_len=CODE),
        Field("region", max_len=40, lower=True),
        Field("country", max_len=2, upper=True),
        Field("postal_code", max_len=20),
        Field("channel", max_len=40, lower=True),
        Field("strategic", "bool"),
        Field("crm_tier", max_len=40, lower=True),
        Field("account_manager_email", max_len=320, lower=True),
        Field("business_unit", max_len=40, lower=True),
        Field("tax_id", max_len=40),
        Field("duns", max_len=20),
        Field("source_updated_at", "datetime"),
    ),
    references=(Reference("parent_code", "customers", "code", "parent customer"),),
    extra_attributes=True,
    scoped=True,
)

PRODUCTS = EntitySpec(
    name="products",
    table="products",
    key=("sku",),
    label="product",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("description", required=True, max_len=500),
        Field("product_line", max_len=100),
        Field("category", max_len=100),
        Field("base_uom", required=True, max_len=20, upper=True),
        Field("lifecycle", choices=LIFECYCLES, lower=True),
        Field("launch_date", "date"),
        Field("business_unit", max_len=40, lower=True),
        Field("source_updated_at", "datetime"),
    ),
    extra_attributes=True,
    scoped=True,
)

UOM_CONVERSIONS = EntitySpec(
    name="uom_conversions",
    table="uom_conversions",
    key=("sku", "uom"),
    label="unit conversion",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("uom", required=True, max_len=20, upper=True),
        # One ``uom`` holds factor / denominator base units (SAP MARM: UMREZ / UMREN).
        Field("factor", "decimal", required=True, minimum=1e-8, maximum=999_999_999_999, scale=8),
        Field("denominator", "decimal", minimum=1e-8, maximum=999_999_999_999, scale=8),
    ),
    references=(Reference("sku", "products", "sku", "product"),),
)

LOCATIONS = EntitySpec(
    name="locations",
    table="locations",
    key=("code",),
    label="location",
    fields=(
        Field("code", "code", required=True, max_len=CODE),
        Field("name", required=True, max_len=300),
        Field("kind", required=True, choices=LOCATION_KINDS, lower=True),
        Field("echelon", "int", minimum=1, maximum=32_767),
        Field("capacity", "decimal", minimum=0),
        Field("region", max_len=40, lower=True),
        Field("country", max_len=2, upper=True),
    ),
    scoped=True,
)

SUPPLIERS = EntitySpec(
    name="suppliers",
    table="suppliers",
    key=("code",),
    label="supplier",
    fields=(
        Field("code", "code", required=True, max_len=CODE),
        Field("name", required=True, max_len=300),
        Field("country", max_len=2, upper=True),
    ),
    extra_attributes=True,
)

ORDER_LINES = EntitySpec(
    name="order_lines",
    table="order_lines",
    key=("order_no", "line_no"),
    label="order line",
    fields=(
        Field("order_no", "code", required=True, max_len=60),
        Field("line_no", "int", required=True, minimum=0),
        Field("customer_code", "code", required=True, max_len=CODE),
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", max_len=CODE),
        Field("order_date", "date", required=True),
        Field("requested_date", "date"),
        Field("quantity", "decimal", required=True, minimum=0, column="ordered_quantity"),
        Field("uom", required=True, max_len=20, upper=True, column="ordered_uom"),
        Field("revenue", "money"),
        Field("margin", "money"),
        Field("margin_estimated", "bool"),
        Field("currency", max_len=3, upper=True),
        Field("promised_date", "date"),
        Field("shipped_date", "date"),
        Field("delivered_date", "date"),
        Field("delivered_quantity", "decimal", minimum=0),
        Field("damaged", "bool"),
        Field("documentation_ok", "bool"),
        Field("source_updated_at", "datetime"),
    ),
    references=(
        Reference("customer_code", "customers", "code", "customer"),
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
    date_field="order_date",
    uom=("quantity", "uom", "sku"),
    extra_quantities=("delivered_quantity",),
)

INVENTORY_POSITIONS = EntitySpec(
    name="inventory_positions",
    table="inventory_positions",
    key=("sku", "location_code", "as_of"),
    label="inventory position",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("as_of", "date", required=True),
        Field("on_hand", "decimal", required=True),
        Field("on_order", "decimal", minimum=0),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
    date_field="as_of",
)

LEAD_TIMES = EntitySpec(
    name="lead_times",
    table="lead_times",
    key=("sku", "location_code", "ordered_on"),
    label="lead-time observation",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("supplier_code", "code", max_len=CODE),
        Field("ordered_on", "date", required=True),
        Field("received_on", "date", required=True),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
        Reference("supplier_code", "suppliers", "code", "supplier"),
    ),
    date_field="received_on",
)

COST_TO_SERVE = EntitySpec(
    name="cost_to_serve",
    table="cost_to_serve",
    key=("customer_code", "period_start"),
    label="cost-to-serve record",
    fields=(
        Field("customer_code", "code", required=True, max_len=CODE),
        Field("period_start", "date", required=True),
        Field("freight", "money"),
        Field("handling", "money"),
        Field("returns", "money"),
    ),
    references=(Reference("customer_code", "customers", "code", "customer"),),
    date_field="period_start",
)

DAYS_MAX = 9_999  # a lead time in days (Numeric(10, 2) holds more; no lane takes 27 years)

SOURCING_LANES = EntitySpec(
    name="sourcing_lanes",
    table="sourcing_lanes",
    key=("location_code", "source_code"),
    label="sourcing lane",
    fields=(
        Field("location_code", "code", required=True, max_len=CODE),
        Field("source_code", "code", required=True, max_len=CODE),
        Field("source_kind", required=True, choices=SOURCE_KINDS, lower=True),
        Field("planned_lead_time_days", "decimal", required=True, minimum=0, maximum=DAYS_MAX),
        Field("calendar", choices=CALENDARS, lower=True),
    ),
    # The source is a supplier or a location, told by ``source_kind``: checked by
    # ``validate.lane_source_errors``; cycles between locations once the whole file is read.
    references=(Reference("location_code", "locations", "code", "location"),),
    whole_file=("source_kind",),
)

OPEN_SUPPLY = EntitySpec(
    name="open_supply",
    table="open_supply",
    key=("order_no", "line_no"),
    label="open supply line",
    fields=(
        Field("order_no", "code", required=True, max_len=60),
        Field("line_no", "int", required=True, minimum=0),
        Field("kind", required=True, choices=SUPPLY_KINDS, lower=True),
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("source_code", "code", max_len=CODE),
        Field("quantity", "decimal", required=True, minimum=0),
        Field("due_date", "date", required=True),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
)

DEMAND_FORECASTS = EntitySpec(
    name="demand_forecasts",
    table="demand_forecasts",
    key=("sku", "location_code", "period_start"),
    label="demand forecast",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("period_start", "date", required=True),
        Field("period_days", "int", minimum=1, maximum=366),
        Field("quantity", "decimal", required=True, minimum=0),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
)

PROMOTIONS = EntitySpec(
    name="promotions",
    table="promotions",
    key=("sku", "location_code", "starts_on"),
    label="promotion",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("starts_on", "date", required=True),
        Field("ends_on", "date", required=True),
        # Expected demand lift while it runs: 0.3 is +30 % (at most twenty-fold)
        Field("uplift", "decimal", required=True, minimum=0, maximum=20),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
)

ERP_PARAMETERS = EntitySpec(
    name="erp_parameters",
    table="erp_parameters",
    key=("sku", "location_code"),
    label="ERP planning parameters",
    fields=(
        Field("sku", "code", required=True, max_len=CODE),
        Field("location_code", "code", required=True, max_len=CODE),
        Field("mrp_type", required=True, choices=MRP_TYPES, upper=True),
        Field("reorder_point", "decimal", minimum=0),
        Field("safety_stock", "decimal", minimum=0),
        Field("planned_delivery_days", "decimal", minimum=0, maximum=DAYS_MAX),
        Field("goods_receipt_days", "decimal", minimum=0, maximum=DAYS_MAX),
        Field("days_basis", choices=CALENDARS, lower=True),
        Field("min_lot", "decimal", minimum=0),
        Field("lot_rounding", "decimal", minimum=0),
        Field("max_stock", "decimal", minimum=0),
        # The unit the quantities are in; none: the product's base unit
        Field("uom", max_len=20, upper=True),
    ),
    references=(
        Reference("sku", "products", "sku", "product"),
        Reference("location_code", "locations", "code", "location"),
    ),
    uom=("reorder_point", "uom", "sku"),
    extra_quantities=("safety_stock", "min_lot", "lot_rounding", "max_stock"),
)

ENTITIES: dict[str, EntitySpec] = {
    e.name: e
    for e in (
        CUSTOMERS,
        PRODUCTS,
        UOM_CONVERSIONS,
        LOCATIONS,
        SUPPLIERS,
        ORDER_LINES,
        INVENTORY_POSITIONS,
        LEAD_TIMES,
        COST_TO_SERVE,
        SOURCING_LANES,
        OPEN_SUPPLY,
        DEMAND_FORECASTS,
        PROMOTIONS,
        ERP_PARAMETERS,
    )
}

# Order in which a full load must run (references point backwards).
LOAD_ORDER = (
    "customers",
    "products",
    "uom_conversions",
    "locations",
    "suppliers",
    "order_lines",
    "inventory_positions",
    "lead_times",
    "cost_to_serve",
    "sourcing_lanes",
    "open_supply",
    "demand_forecasts",
    "promotions",
    "erp_parameters",
)


def entity(name: str) -> EntitySpec:
    try:
        return ENTITIES[name]
    except KeyError:
        raise ValueError(f"unknown entity '{name}' (choose: {', '.join(LOAD_ORDER)})") from None
