"""Tenant schema: change notifications for the portal's in-process cache.

Revision ID: t0009
Revises: t0008
Create Date: 2026-12-03

Every table a portal response or the portal guard reads gets a statement-level trigger that
sends ``pg_notify('tierline_portal', <the table's schema>)``. PostgreSQL delivers a
notification only when the writing transaction commits (and folds duplicates within one
transaction), so a listener learns of every committed change to a tenant's portal data and
nothing of a rolled-back one. ``tierline.portal.cache`` drops the tenant's cached entries on
each notification.
"""

from __future__ import annotations

from alembic import op

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

CHANNEL = "tierline_portal"
TABLES = (
    # the portal's reach and entitlements
    "customers",
    "segment_assignments",
    "segmentation_schemes",
    "scheme_versions",
    "entitlement_versions",
    "customer_notices",
    "portal_branding",
    # the portal guard: users, their grants and the policy version
    "users",
    "role_grants",
    "authz_state",
)


def upgrade() -> None:
    # The trigger names the schema of the table it fired on, so it is right whatever the
    # search_path of the writing session.
    op.execute(
        f"""
        CREATE FUNCTION portal_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
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


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_portal_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS portal_notify()")
