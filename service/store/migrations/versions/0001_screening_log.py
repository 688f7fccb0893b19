"""API keys, the screening log, pack loads and service state.

Revision ID: 0001
Revises:
Create Date: 2026-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.store.tables import JsonDocument, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_table(
        "screenings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("screened_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("pack_version", sa.String(100), nullable=False),
        sa.Column("pack_digest", sa.String(100), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("record", JsonDocument, nullable=True),
        sa.Column("result", JsonDocument, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name="fk_screenings_api_key_id_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_screenings"),
    )
    op.create_index("ix_screenings_api_key_id_id", "screenings", ["api_key_id", "id"])
    op.create_index("ix_screenings_record_id_id", "screenings", ["record_id", "id"])
    op.create_index("ix_screenings_decision_id", "screenings", ["decision", "id"])
    op.create_index("ix_screenings_screened_at", "screenings", ["screened_at"])
    op.create_table(
        "pack_loads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pack_loads"),
    )
    op.create_table(
        "service_state",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.String(2000), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_service_state"),
    )


def downgrade() -> None:
    op.drop_table("service_state")
    op.drop_table("pack_loads")
    op.drop_index("ix_screenings_screened_at", table_name="screenings")
    op.drop_index("ix_screenings_decision_id", table_name="screenings")
    op.drop_index("ix_screenings_record_id_id", table_name="screenings")
    op.drop_index("ix_screenings_api_key_id_id", table_name="screenings")
    op.drop_table("screenings")
    op.drop_table("api_keys")
