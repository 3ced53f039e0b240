"""Tenant schema: master data, order history, golden-record sources, imports, feeds.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-24

Natural keys (customer code, SKU, location code, order/line) are what ERP files carry, so
foreign keys reference them directly; imports upsert by them. The order-line fact table carries
no foreign keys: every import checks its references against the master data in the same
transaction, and per-row constraint triggers would cost most of a million-line load (master
data rows are never deleted, only merged through their source records). Revenue, margin and cost values
are stored only encrypted (bytea, DESIGN.md §5). ``row_hash`` is a keyed hash of a record's
source values, so re-importing an unchanged row changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
CODE = sa.String(100)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    ]


def _trgm(table: str, column: str) -> None:
    op.execute(
        f"CREATE INDEX ix_{table}_{column}_trgm ON {table} USING gin ({column} public.gin_trgm_ops)"
    )


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", CODE, nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("account_type", sa.String(12), nullable=False),
        sa.Column("parent_code", CODE, nullable=True),
        sa.Column("global_account_code", CODE, nullable=True),
        sa.Column("region", sa.String(40), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("postal_code", sa.String(20), nullable=True),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("strategic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("crm_tier", sa.String(40), nullable=True),
        sa.Column("account_manager_email", sa.String(320), nullable=True),
        sa.Column("business_unit", sa.String(40), nullable=True),
        sa.Column("scope", sa.String(40), nullable=False, server_default="*"),
        sa.Column("tax_id", sa.String(40), nullable=True),
        sa.Column("duns", sa.String(20), nullable=True),
        sa.Column("attributes", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        sa.Column("source_updated_at", TS, nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "account_type IN ('global', 'parent', 'sold_to', 'ship_to')",
            name="ck_customers_account_type",
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["customers.code"],
            name="fk_customers_parent",
            deferrable=True,
            initially="DEFERRED",
        ),
    )
    for column in ("parent_code", "region", "channel", "scope", "country"):
        op.create_index(f"ix_customers_{column}", "customers", [column])
    _trgm("customers", "name")
    _trgm("customers", "code")

    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("sku", CODE, nullable=False, unique=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("product_line", sa.String(100), nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("base_uom", sa.String(20), nullable=False),
        sa.Column("lifecycle", sa.String(20), nullable=False, server_default="active"),
        sa.Column("launch_date", sa.Date, nullable=True),
        sa.Column("business_unit", sa.String(40), nullable=True),
        sa.Column("scope", sa.String(40), nullable=False, server_default="*"),
        sa.Column("attributes", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        sa.Column("source_updated_at", TS, nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "lifecycle IN ('active', 'npi', 'promotional', 'one_time_project', 'phase_out')",
            name="ck_products_lifecycle",
        ),
    )
    for column in ("product_line", "category", "lifecycle", "scope"):
        op.create_index(f"ix_products_{column}", "products", [column])
    _trgm("products", "description")
    _trgm("products", "sku")

    op.create_table(
        "uom_conversions",
        sa.Column("sku", CODE, sa.ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True),
        sa.Column("uom", sa.String(20), primary_key=True),
        sa.Column("factor", sa.Numeric(20, 8), nullable=False),
        sa.CheckConstraint("factor > 0", name="ck_uom_conversions_factor"),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", CODE, nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("echelon", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("capacity", sa.Numeric(18, 4), nullable=True),
        sa.Column("region", sa.String(40), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("scope", sa.String(40), nullable=False, server_default="*"),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "kind IN ('plant', 'dc', 'warehouse', 'store')", name="ck_locations_kind"
        ),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", CODE, nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("attributes", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        *_stamps(),
    )
    op.create_table(
        "order_lines",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_no", sa.String(60), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("customer_code", CODE, nullable=False),
        sa.Column("sku", CODE, nullable=False),
        sa.Column("location_code", CODE, nullable=True),
        sa.Column("order_date", sa.Date, nullable=False),
        sa.Column("requested_date", sa.Date, nullable=True),
        sa.Column("quantity", sa.Numeric(18, 4), nullable=False),
        sa.Column("ordered_quantity", sa.Numeric(18, 4), nullable=False),
        sa.Column("ordered_uom", sa.String(20), nullable=False),
        sa.Column("revenue_enc", sa.LargeBinary, nullable=True),
        sa.Column("margin_enc", sa.LargeBinary, nullable=True),
        sa.Column("margin_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("promised_date", sa.Date, nullable=True),
        sa.Column("shipped_date", sa.Date, nullable=True),
        sa.Column("delivered_date", sa.Date, nullable=True),
        sa.Column("delivered_quantity", sa.Numeric(18, 4), nullable=True),
        sa.Column("damaged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("documentation_ok", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        sa.Column("source_updated_at", TS, nullable=True),
        *_stamps(),
        sa.UniqueConstraint("order_no", "line_no", name="uq_order_lines_order_line"),
        sa.CheckConstraint("quantity >= 0", name="ck_order_lines_quantity"),
    )
    op.create_index("ix_order_lines_customer_date", "order_lines", ["customer_code", "order_date"])
    op.create_index("ix_order_lines_sku_date", "order_lines", ["sku", "order_date"])
    op.create_index("ix_order_lines_order_date", "order_lines", ["order_date"])

    op.create_table(
        "inventory_positions",
        sa.Column("sku", CODE, sa.ForeignKey("products.sku"), primary_key=True),
        sa.Column("location_code", CODE, sa.ForeignKey("locations.code"), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("on_hand", sa.Numeric(18, 4), nullable=False),
        sa.Column("on_order", sa.Numeric(18, 4), nullable=False, server_default="0"),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        *_stamps(),
    )
    op.create_table(
        "lead_times",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("sku", CODE, sa.ForeignKey("products.sku"), nullable=False),
        sa.Column("location_code", CODE, sa.ForeignKey("locations.code"), nullable=False),
        sa.Column("supplier_code", CODE, sa.ForeignKey("suppliers.code"), nullable=True),
        sa.Column("ordered_on", sa.Date, nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("lead_time_days", sa.Numeric(10, 2), nullable=False),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        *_stamps(),
        sa.UniqueConstraint("sku", "location_code", "ordered_on", name="uq_lead_times_observation"),
    )
    op.create_table(
        "cost_to_serve",
        sa.Column("customer_code", CODE, sa.ForeignKey("customers.code"), primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("freight_enc", sa.LargeBinary, nullable=True),
        sa.Column("handling_enc", sa.LargeBinary, nullable=True),
        sa.Column("returns_enc", sa.LargeBinary, nullable=True),
        sa.Column("row_hash", sa.LargeBinary, nullable=True),
        *_stamps(),
    )
    for entity in ("customer", "product"):
        key = "customer_code" if entity == "customer" else "sku"
        parent = "customers.code" if entity == "customer" else "products.sku"
        op.create_table(
            f"{entity}_sources",
            sa.Column("source_system", sa.String(40), primary_key=True),
            sa.Column("source_key", CODE, primary_key=True),
            sa.Column(key, CODE, sa.ForeignKey(parent, ondelete="SET NULL"), nullable=True),
            sa.Column("record", pg.JSONB, nullable=False),
            sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
            sa.Column("source_updated_at", TS, nullable=True),
        )
        op.create_index(f"ix_{entity}_sources_{key}", f"{entity}_sources", [key])
    op.create_table(
        "match_reviews",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("entity", sa.String(10), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False),
        sa.Column("source_key", CODE, nullable=False),
        sa.Column("candidate_code", CODE, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reasons", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("status", sa.String(12), nullable=False, server_default="open"),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("entity IN ('customer', 'product')", name="ck_match_reviews_entity"),
        sa.CheckConstraint(
            "status IN ('open', 'merged', 'kept_apart')", name="ck_match_reviews_status"
        ),
        sa.UniqueConstraint(
            "entity", "source_system", "source_key", "candidate_code", name="uq_match_reviews_pair"
        ),
    )
    op.create_index("ix_match_reviews_status", "match_reviews", ["status"])
    op.create_table(
        "mapping_profiles",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False, server_default="erp"),
        sa.Column("options", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("columns", pg.JSONB, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        *_stamps(),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("profile", sa.String(100), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("total_rows", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("inserted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("job_id", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'validating', 'applying', 'failed', 'applied', 'rejected')",
            name="ck_imports_status",
        ),
    )
    op.create_index("ix_imports_created_at", "imports", ["created_at"])
    op.create_table(
        "import_errors",
        sa.Column(
            "import_id", sa.Uuid, sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("line", sa.BigInteger, nullable=True),
        sa.Column("column_name", sa.String(200), nullable=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "feeds",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("newest_source_at", TS, nullable=True),
        sa.Column("staleness_hours", sa.Integer, nullable=False, server_default="24"),
        sa.Column("steward_email", sa.String(320), nullable=True),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", pg.JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "feeds",
        "import_errors",
        "imports",
        "mapping_profiles",
        "match_reviews",
        "product_sources",
        "customer_sources",
        "cost_to_serve",
        "lead_times",
        "inventory_positions",
        "order_lines",
        "suppliers",
        "locations",
        "uom_conversions",
        "products",
        "customers",
    ):
        op.drop_table(table)
