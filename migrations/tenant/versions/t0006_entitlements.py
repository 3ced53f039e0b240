"""Tenant schema: service entitlements per segment, customer contracts, escalation paths.

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-26

Entitlements are versioned per (scheme, segment) with half-open effective periods
``[effective_from, effective_to)``; contracts carry the same kind of period per customer. Two
versions of one segment (two contracts of one customer) may never overlap. The application
validates that and reports it as a field error; the database enforces it as well, with an
exclusion constraint over ``daterange`` when the ``btree_gist`` extension can be installed
(it ships with PostgreSQL and is a trusted extension), otherwise with a trigger that serialises
writers per key through a transaction-scoped advisory lock and refuses an overlap. Fractions
(targets, minimum share) are stored 0..1; pages show percent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEG = sa.String(20)
EMAIL = sa.String(320)
CODE = sa.String(100)
FRACTION = sa.Numeric(6, 5)


def _fraction_check(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} BETWEEN 0 AND 1", name=f"ck_{table}_{column}")


def _have_btree_gist() -> bool:
    """Install ``btree_gist`` in ``public`` if possible (a savepoint keeps a refusal harmless;
    a concurrent install by another schema's migration shows up in the re-check)."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public")
    except sa.exc.DBAPIError:
        pass
    found = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
    return found.scalar() is not None


def _no_overlap(table: str, keys: tuple[str, ...], start: str, end: str, gist: bool) -> None:
    name = f"ex_{table}_no_overlap"
    period = f"daterange({start}, {end}, '[)')"
    if gist:
        parts = ", ".join(f"{k} WITH =" for k in keys)
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} "
            f"EXCLUDE USING gist ({parts}, {period} WITH &&)"
        )
        return
    same_key = " AND ".join(f"t.{k} = NEW.{k}" for k in keys)
    lock_key = " || '/' || ".join(f"NEW.{k}" for k in keys)
    op.execute(
        f"""
        CREATE FUNCTION {table}_no_overlap() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtext('{table}'), hashtext({lock_key}));
          IF EXISTS (
            SELECT 1 FROM {table} t
             WHERE {same_key} AND t.id <> NEW.id
               AND daterange(t.{start}, t.{end}, '[)')
                   && daterange(NEW.{start}, NEW.{end}, '[)')
          ) THEN
            RAISE EXCEPTION '{name}: overlapping period refused'
              USING ERRCODE = 'exclusion_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_no_overlap()"
    )


def upgrade() -> None:
    gist = _have_btree_gist()
    t = "entitlement_versions"
    op.create_table(
        t,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "scheme_code", sa.String(40), sa.ForeignKey("segmentation_schemes.code"), nullable=False
        ),
        sa.Column("segment_code", SEG, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("effective_to", sa.Date, nullable=True),
        sa.Column("fill_rate_target", FRACTION, nullable=False),
        sa.Column("otif_target", FRACTION, nullable=False),
        sa.Column("perfect_order_target", FRACTION, nullable=False),
        sa.Column("cycle_service_level", FRACTION, nullable=False),
        sa.Column("quoted_lead_time_days", sa.Integer, nullable=False),
        sa.Column("delivery_windows", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("allocation_priority", sa.Integer, nullable=False),
        sa.Column("allocation_min_share", FRACTION, nullable=False, server_default="0"),
        sa.Column("picking_priority", sa.Integer, nullable=False),
        sa.Column("transport_rules", sa.Text, nullable=True),
        sa.Column("taxonomy_code", sa.String(40), nullable=True),
        sa.Column("allow_below_lower_tier", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", EMAIL, nullable=True),
        sa.UniqueConstraint(
            "scheme_code", "segment_code", "version", name="uq_entitlement_version"
        ),
        _fraction_check(t, "fill_rate_target"),
        _fraction_check(t, "otif_target"),
        _fraction_check(t, "perfect_order_target"),
        _fraction_check(t, "cycle_service_level"),
        _fraction_check(t, "allocation_min_share"),
        sa.CheckConstraint("quoted_lead_time_days >= 0", name="ck_entitlement_lead_time"),
        sa.CheckConstraint("allocation_priority >= 1", name="ck_entitlement_allocation_priority"),
        sa.CheckConstraint("picking_priority >= 1", name="ck_entitlement_picking_priority"),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from", name="ck_entitlement_period"
        ),
        sa.CheckConstraint(
            "jsonb_typeof(delivery_windows) = 'array'", name="ck_entitlement_windows_array"
        ),
    )
    _no_overlap(t, ("scheme_code", "segment_code"), "effective_from", "effective_to", gist)

    c = "contracts"
    op.create_table(
        c,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_code", CODE, sa.ForeignKey("customers.code"), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False, unique=True),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("fill_rate_min", FRACTION, nullable=True),
        sa.Column("otif_min", FRACTION, nullable=True),
        sa.Column("perfect_order_min", FRACTION, nullable=True),
        sa.Column("max_lead_time_days", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", EMAIL, nullable=True),
        _fraction_check(c, "fill_rate_min"),
        _fraction_check(c, "otif_min"),
        _fraction_check(c, "perfect_order_min"),
        sa.CheckConstraint("max_lead_time_days >= 0", name="ck_contracts_max_lead_time"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_contracts_period"),
    )
    op.create_index("ix_contracts_customer", c, ["customer_code", "valid_from"])
    _no_overlap(c, ("customer_code",), "valid_from", "valid_to", gist)

    op.create_table(
        "escalation_steps",
        sa.Column(
            "scheme_code",
            sa.String(40),
            sa.ForeignKey("segmentation_schemes.code"),
            primary_key=True,
        ),
        sa.Column("segment_code", SEG, primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("notify", EMAIL, nullable=False),
        sa.Column("after_periods", sa.Integer, nullable=False),
        sa.Column("period", sa.String(5), nullable=False),
        sa.Column("channel", sa.String(6), nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", EMAIL, nullable=True),
        sa.CheckConstraint("step >= 1", name="ck_escalation_step"),
        sa.CheckConstraint("after_periods >= 1", name="ck_escalation_after_periods"),
        sa.CheckConstraint("period IN ('week','month')", name="ck_escalation_period"),
        sa.CheckConstraint("channel IN ('in_app','email')", name="ck_escalation_channel"),
    )


def downgrade() -> None:
    op.drop_table("escalation_steps")
    op.drop_table("contracts")
    op.drop_table("entitlement_versions")
    op.execute("DROP FUNCTION IF EXISTS contracts_no_overlap() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS entitlement_versions_no_overlap() CASCADE")
