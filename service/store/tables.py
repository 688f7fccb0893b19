"""The store's tables as typed SQLAlchemy 2 ORM classes (``*Row``).

The schema itself is owned by the Alembic migrations in ``service/store/migrations``; a test checks that
these classes and the migrated database agree on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Constraint names are spelled out so migrations can refer to them on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect (SQLite keeps no zone, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ApiKeyRow(Base):
    """A machine client's key. Only a sha256 of the key is kept; ``prefix`` finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ScreeningRow(Base):
    """One screening as it happened: who asked, what, which pack answered, what came back, how fast."""

    __tablename__ = "screenings"
    __table_args__ = (
        Index("ix_screenings_api_key_id_id", "api_key_id", "id"),
        Index("ix_screenings_record_id_id", "record_id", "id"),
        Index("ix_screenings_decision_id", "decision", "id"),
        Index("ix_screenings_screened_at", "screened_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    screened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(20))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    record_id: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))
    risk_score: Mapped[int] = mapped_column(Integer)
    pack_version: Mapped[str] = mapped_column(String(100))
    pack_digest: Mapped[str] = mapped_column(String(100))
    latency_ms: Mapped[float] = mapped_column(Float)
    record: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class PackLoadRow(Base):
    """A pack put into service by a reload. Workers of one server watch this table to follow reloads."""

    __tablename__ = "pack_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))


class ServiceStateRow(Base):
    """Small facts about the installation itself, e.g. that the first admin key was handed out."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- review workflow (revision 0002) -----------------------------------------------------------------------


class UserRow(Base):
    """A person who logs in to the review UI. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200), doc="comma-separated role names")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionRow(Base):
    """A logged-in browser session; the cookie's token is stored only as its sha256."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AlertRow(Base):
    """One record under review: the latest flagged result for a record id and where the review stands."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state_id", "state", "id"),
        Index("ix_alerts_assignee_id_state_id", "assignee_id", "state", "id"),
        Index("ix_alerts_decision_state_id", "decision", "state", "id"),
        Index("ix_alerts_severity_state_id", "severity", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    decision: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    risk_score: Mapped[int] = mapped_column(Integer)
    rules: Mapped[str] = mapped_column(String(2000), doc="',rule-a,rule-b,' for filtering by rule")
    result_digest: Mapped[str] = mapped_column(String(64))
    pack_version: Mapped[str] = mapped_column(String(100))
    pack_digest: Mapped[str] = mapped_column(String(100))
    screening_id: Mapped[str] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(20))
    record: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    proposed_outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    proposed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AlertMatchRow(Base):
    """One piece of flag evidence naming a list entry: the question a reviewer answers."""

    __tablename__ = "alert_matches"
    __table_args__ = (Index("ix_alert_matches_alert_id", "alert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    rule: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(40))
    entry: Mapped[str] = mapped_column(String(200))
    list_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    matched: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    score: Mapped[float] = mapped_column(Float)
    suppressed_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    comment: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    allow_list_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AlertEventRow(Base):
    """The history of one alert as its page shows it (the audit trail holds the same facts for examiners)."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_id_id", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class AllowListRow(Base):
    """A false positive decided once: the same party against the same list entry and rule is suppressed
    until the entry's content, the party's data or the rule changes, or the entry expires."""

    __tablename__ = "allow_list"
    __table_args__ = (Index("ix_allow_list_entry_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    party_value: Mapped[str] = mapped_column(String(2000), doc="the record's value, normalised")
    party_country: Mapped[str | None] = mapped_column(String(100), nullable=True)
    party_identifiers: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    entry_id: Mapped[str] = mapped_column(String(200))
    entry_digest: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(200))
    rule_digest: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(4000))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AuditRow(Base):
    """One action, for examiners. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_object_type_object_id", "object_type",
                                                            "object_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)


# --- continuous rescreening (revision 0003) ----------------------------------------------------------------


class MonitoredRecordRow(Base):
    """The latest screening of one record id: the record itself (a rescreen screens it again) and what its
    last result was (``last_result_digest``), so a rescreen can tell whether the outcome changed."""

    __tablename__ = "monitored_records"

    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    source: Mapped[str] = mapped_column(String(20))
    last_screening_id: Mapped[str] = mapped_column(String(36))
    last_decision: Mapped[str] = mapped_column(String(10))
    last_result_digest: Mapped[str] = mapped_column(String(64))
    last_screened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    pack_digest: Mapped[str] = mapped_column(String(100))


class MonitoredPartyRow(Base):
    """One party (or vessel) of a monitored record: the names and identifiers a list change is compared with."""

    __tablename__ = "monitored_parties"
    __table_args__ = (Index("ix_monitored_parties_record_id", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("monitored_records.record_id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, doc="index in the record's parties (or vessels)")
    kind: Mapped[str] = mapped_column(String(10), doc="'party' or 'vessel'")
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(200), nullable=True)
    identifiers: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    last_screening_id: Mapped[str] = mapped_column(String(36))
    last_decision: Mapped[str] = mapped_column(String(10))


# --- rescreen runs (revision 0004) --------------------------------------------------------------------------


class RescreenRunRow(Base):
    """One rescreen of the monitored set: why it ran, with which pack, what it compared and what it changed.

    A run is ``running`` until it ends ``finished``, ``failed``, ``cancelled`` (server shutdown) or
    ``interrupted`` (its process died: no heartbeat in ``updated_at`` for a while). ``baseline``, on a
    finished run, is the state the monitored set is known to agree with afterwards (a digest of the rules and
    of each party list); the next rescreen compares the current pack with it.
    """

    __tablename__ = "rescreen_runs"
    __table_args__ = (Index("ix_rescreen_runs_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(20), doc="cli, pack-reload, list-import, ...")
    mode: Mapped[str] = mapped_column(String(20), doc="changed, all, since-list or entries")
    status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, doc="heartbeat while running")
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pack_name: Mapped[str] = mapped_column(String(200))
    pack_version: Mapped[str] = mapped_column(String(100))
    pack_digest: Mapped[str] = mapped_column(String(100))
    entries_changed: Mapped[int] = mapped_column(Integer)
    monitored_records: Mapped[int] = mapped_column(Integer)
    monitored_parties: Mapped[int] = mapped_column(Integer)
    names_analysed: Mapped[int] = mapped_column(Integer, doc="distinct monitored names run against the index")
    candidate_checks: Mapped[int] = mapped_column(Integer, doc="name pairs scored in full")
    candidate_records: Mapped[int] = mapped_column(Integer)
    records_rescreened: Mapped[int] = mapped_column(Integer)
    outcomes_changed: Mapped[int] = mapped_column(Integer)
    alerts_opened: Mapped[int] = mapped_column(Integer)
    alerts_updated: Mapped[int] = mapped_column(Integer)
    alerts_reopened: Mapped[int] = mapped_column(Integer)
    now_clear: Mapped[int] = mapped_column(Integer)
    skipped_newer: Mapped[int] = mapped_column(Integer, doc="records screened again while the run read them")
    unreadable_records: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument, doc="reason, notes, lists diffed, changes")


class ListSnapshotRow(Base):
    """The party entries of one version of a party list (gzip of their JSON), kept so that a later rescreen
    can tell what changed since the version the monitored set was last brought up to date with."""

    __tablename__ = "list_snapshots"
    __table_args__ = (UniqueConstraint("list_name", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(100), doc="sha256 of the entries' JSON")
    entry_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    entries: Mapped[bytes] = mapped_column(LargeBinary)
