"""Tenant schema: the portal's change notifications no longer come from triggers.

Revision ID: t0013
Revises: t0012
Create Date: 2026-12-08

Revision t0009 made every table the portal reads send ``NOTIFY`` from a statement trigger.
Under Citus schema-based sharding a tenant's tables may live on a worker node, where a
trigger's notification never reaches a listener on the coordinator. The unit of work now
announces each committed change itself (``tierline.platform.changes``), wherever the tables
live, so the triggers and their function go.
"""

from __future__ import annotations

from alembic import op

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None

TABLES = (
    "customers",
    "segment_assignments",
    "segmentation_schemes",
    "scheme_versions",
    "entitlement_versions",
    "customer_notices",
    "portal_branding",
    "users",
    "role_grants",
    "authz_state",
)


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_portal_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS portal_notify()")


def downgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION portal_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('tierline_portal', TG_TABLE_SCHEMA);
          RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_portal_notify "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION portal_notify()"
        )
