"""Tenant schema: users, role grants, policy version, data keys, SSO, API clients, audit log.

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-24

The audit log is append-only at the database level: a trigger refuses UPDATE, DELETE and
TRUNCATE, whatever the code does. Any change to role grants bumps the policy version (trigger),
so every process notices on its next decision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("must_change_password", sa.Boolean, nullable=False),
        sa.Column("customer_code", sa.String(100), nullable=True),
        sa.Column("sso_subject", sa.String(500), nullable=True, unique=True),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("last_login_at", TS, nullable=True),
        sa.Column("invitation_hash", sa.String(128), nullable=True, unique=True),
        sa.Column("invitation_expires_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('staff', 'customer')", name="ck_users_kind"),
        sa.CheckConstraint(
            "status IN ('invited', 'active', 'locked', 'disabled')", name="ck_users_status"
        ),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.CheckConstraint(
            "kind = 'staff' OR customer_code IS NOT NULL", name="ck_users_customer_code"
        ),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "role", "scope", name="uq_role_grants_user_role_scope"),
    )
    op.create_table(
        "authz_state",
        sa.Column("singleton", sa.Boolean, primary_key=True, server_default=sa.true()),
        sa.Column("policy_version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("singleton", name="ck_authz_state_singleton"),
    )
    op.execute("INSERT INTO authz_state (singleton, policy_version) VALUES (true, 1)")
    # The trigger names the schema it fired in, so it is right whatever the search_path.
    op.execute(
        """
        CREATE FUNCTION bump_policy_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          EXECUTE format('UPDATE %I.authz_state SET policy_version = policy_version + 1',
                         TG_TABLE_SCHEMA);
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER role_grants_bump_policy AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON role_grants FOR EACH STATEMENT EXECUTE FUNCTION bump_policy_version()"
    )
    op.execute(
        "CREATE TRIGGER users_status_bump_policy AFTER UPDATE OF status OR DELETE "
        "ON users FOR EACH STATEMENT EXECUTE FUNCTION bump_policy_version()"
    )
    op.create_table(
        "data_keys",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("kek_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS, nullable=True),
        sa.CheckConstraint("status IN ('active', 'retired')", name="ck_data_keys_status"),
    )
    op.create_index(
        "uq_data_keys_one_active",
        "data_keys",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "oidc_providers",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(500), nullable=False),
        sa.Column("client_secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("allowed_domains", pg.ARRAY(sa.String(255)), nullable=False),
        sa.Column("role_claim", sa.String(100), nullable=True),
        sa.Column("role_mapping", sa.JSON, nullable=False),
        sa.Column("default_role", sa.String(40), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("scopes", pg.ARRAY(sa.String(60)), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_api_clients_status"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("object_type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(500), nullable=True),
        sa.Column("before", pg.JSONB, nullable=True),
        sa.Column("after", pg.JSONB, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"])
    op.create_table(
        "audit_head",
        sa.Column("singleton", sa.Boolean, primary_key=True, server_default=sa.true()),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("singleton", name="ck_audit_head_singleton"),
    )
    op.execute(
        """
        CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()"
    )


def downgrade() -> None:
    for table in ("audit_head", "audit_log", "api_clients", "oidc_providers", "data_keys"):
        op.drop_table(table)
    op.execute("DROP TRIGGER IF EXISTS users_status_bump_policy ON users")
    op.drop_table("authz_state")
    op.drop_table("role_grants")
    op.execute("DROP FUNCTION IF EXISTS bump_policy_version() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS audit_log_is_append_only() CASCADE")
    op.drop_table("users")
