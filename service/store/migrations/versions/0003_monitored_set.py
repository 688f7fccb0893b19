"""Continuous rescreening: the monitored set (the latest record of every screened record id, and its parties
and vessels by name, country and identifiers).

Revision ID: 0003
Revises: 0002
Create Date: 2026-06-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.store.tables import JsonDocument, UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitored_records",
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("record", JsonDocument, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("last_screening_id", sa.String(36), nullable=False),
        sa.Column("last_decision", sa.String(10), nullable=False),
        sa.Column("last_result_digest", sa.String(64), nullable=False),
        sa.Column("last_screened_at", UtcDateTime(), nullable=False),
        sa.Column("pack_digest", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name="pk_monitored_records"),
    )
    op.create_table(
        "monitored_parties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("country", sa.String(200), nullable=True),
        sa.Column("identifiers", JsonDocument, nullable=False),
        sa.Column("last_screening_id", sa.String(36), nullable=False),
        sa.Column("last_decision", sa.String(10), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["monitored_records.record_id"],
                                name="fk_monitored_parties_record_id_monitored_records", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_monitored_parties"),
    )
    op.create_index("ix_monitored_parties_record_id", "monitored_parties", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_monitored_parties_record_id", table_name="monitored_parties")
    op.drop_table("monitored_parties")
    op.drop_table("monitored_records")
