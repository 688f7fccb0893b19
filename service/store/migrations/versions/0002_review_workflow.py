"""Review workflow: users, sessions, alerts with their matches and history, the allow-list and the
append-only audit trail (triggers refuse UPDATE and DELETE on audit_log, on SQLite and PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-06-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.store.tables import JsonDocument, UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The message both dialects raise when something tries to rewrite history.
APPEND_ONLY_MESSAGE = "audit_log is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END""",
]

_POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$""",
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()""",
    # TRUNCATE skips row triggers; refuse it with a statement trigger.
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("password_changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("rules", sa.String(2000), nullable=False),
        sa.Column("result_digest", sa.String(64), nullable=False),
        sa.Column("pack_version", sa.String(100), nullable=False),
        sa.Column("pack_digest", sa.String(100), nullable=False),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("record", JsonDocument, nullable=True),
        sa.Column("result", JsonDocument, nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("proposed_outcome", sa.String(20), nullable=True),
        sa.Column("proposed_by", sa.String(100), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name="fk_alerts_assignee_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("record_id", name="uq_alerts_record_id"),
    )
    op.create_index("ix_alerts_state_id", "alerts", ["state", "id"])
    op.create_index("ix_alerts_assignee_id_state_id", "alerts", ["assignee_id", "state", "id"])
    op.create_index("ix_alerts_decision_state_id", "alerts", ["decision", "state", "id"])
    op.create_index("ix_alerts_severity_state_id", "alerts", ["severity", "state", "id"])
    op.create_table(
        "alert_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("value", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("entry", sa.String(200), nullable=False),
        sa.Column("list_name", sa.String(200), nullable=True),
        sa.Column("matched", sa.String(2000), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("suppressed_by", sa.String(40), nullable=True),
        sa.Column("decision", sa.String(20), nullable=True),
        sa.Column("comment", sa.String(4000), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("allow_list_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_matches_alert_id_alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_matches"),
    )
    op.create_index("ix_alert_matches_alert_id", "alert_matches", ["alert_id"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("comment", sa.String(4000), nullable=True),
        sa.Column("detail", JsonDocument, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_events_alert_id_alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_alert_id_id", "alert_events", ["alert_id", "id"])
    op.create_table(
        "allow_list",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party_value", sa.String(2000), nullable=False),
        sa.Column("party_country", sa.String(100), nullable=True),
        sa.Column("party_identifiers", JsonDocument, nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("entry_digest", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("rule_digest", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(4000), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_allow_list"),
    )
    op.create_index("ix_allow_list_entry_id", "allow_list", ["entry_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("before", JsonDocument, nullable=True),
        sa.Column("after", JsonDocument, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_object_type_object_id", "audit_log", ["object_type", "object_id"])
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_log CASCADE")
        op.execute("DROP FUNCTION audit_log_refuse_change()")
    else:
        op.drop_table("audit_log")
    for table in ("allow_list", "alert_events", "alert_matches", "alerts", "sessions", "users"):
        op.drop_table(table)
