"""Continuous rescreening: the report of every rescreen run (trigger, pack, counts, the baseline it leaves)
and snapshots of the party lists a baseline refers to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-06-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.store.tables import JsonDocument, UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = ("entries_changed", "monitored_records", "monitored_parties", "names_analysed", "candidate_checks",
           "candidate_records", "records_rescreened", "outcomes_changed", "alerts_opened", "alerts_updated",
           "alerts_reopened", "now_clear", "skipped_newer", "unreadable_records")


def upgrade() -> None:
    op.create_table(
        "rescreen_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("pack_name", sa.String(200), nullable=False),
        sa.Column("pack_version", sa.String(100), nullable=False),
        sa.Column("pack_digest", sa.String(100), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("baseline", JsonDocument, nullable=True),
        sa.Column("detail", JsonDocument, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rescreen_runs"),
    )
    op.create_index("ix_rescreen_runs_status", "rescreen_runs", ["status"])
    op.create_table(
        "list_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_snapshots"),
        sa.UniqueConstraint("list_name", "digest", name="uq_list_snapshots_list_name_digest"),
    )


def downgrade() -> None:
    op.drop_table("list_snapshots")
    op.drop_index("ix_rescreen_runs_status", table_name="rescreen_runs")
    op.drop_table("rescreen_runs")
