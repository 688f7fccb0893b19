"""The audit trail: every review action, login, user and allow-list change, written in the same transaction
as the change itself, and exported for examiners as CSV or JSON.

The table is append-only in the database (triggers from migration 0002 refuse UPDATE and DELETE), so not
even a bug or a person with the application's credentials can rewrite it through the service.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.database import Database
from service.store.tables import AuditRow

#: The columns of an export, in order.
EXPORT_FIELDS = ("id", "at", "actor", "action", "object_type", "object_id", "before", "after")
#: A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail."""

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        return cls(row.id, row.at, row.actor, row.action, row.object_type, row.object_id, row.before, row.after)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (time in ISO 8601 UTC)."""
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "object_type": self.object_type, "object_id": self.object_id, "before": self.before,
                "after": self.after}


def record_audit(session: Session, actor: str, action: str, object_type: str, object_id: str | int, *,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 at: datetime | None = None) -> None:
    """Append one action to the audit trail inside the caller's transaction (committed with the change)."""
    session.add(AuditRow(at=at or datetime.now(UTC), actor=actor, action=action, object_type=object_type,
                         object_id=str(object_id), before=before, after=after))


def audit_event(database: Database, actor: str, action: str, object_type: str, object_id: str | int, *,
                before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Append one action in a transaction of its own (for actions that change nothing else, e.g. a pack
    reload or a failed login)."""
    with database.session("writing the audit trail") as session:
        record_audit(session, actor, action, object_type, object_id, before=before, after=after)


def list_audit(database: Database, *, since: datetime | None = None, until: datetime | None = None,
               after_id: int = 0, limit: int = 1000, object_type: str | None = None,
               object_id: str | None = None) -> list[AuditEntry]:
    """Audit entries in the order they were written (by id), at most ``limit``, starting after ``after_id``."""
    statement = select(AuditRow).where(AuditRow.id > after_id).order_by(AuditRow.id).limit(limit)
    if since is not None:
        statement = statement.where(AuditRow.at >= since)
    if until is not None:
        statement = statement.where(AuditRow.at < until)
    if object_type is not None:
        statement = statement.where(AuditRow.object_type == object_type)
    if object_id is not None:
        statement = statement.where(AuditRow.object_id == object_id)
    with database.session("reading the audit trail") as session:
        return [AuditEntry.from_row(row) for row in session.scalars(statement)]


def iter_audit(database: Database, *, since: datetime | None = None, until: datetime | None = None,
               page: int = 1000) -> Iterator[AuditEntry]:
    """Every audit entry in the range, read a page at a time (for exports of any size)."""
    after_id = 0
    while True:
        entries = list_audit(database, since=since, until=until, after_id=after_id, limit=page)
        yield from entries
        if len(entries) < page:
            return
        after_id = entries[-1].id


def neutralise_cell(value: str) -> str:
    """A cell that a spreadsheet will show as text: one starting like a formula gets a leading quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def audit_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The entries as CSV text, a header line first, every cell neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    yield buffer.getvalue()
    for entry in entries:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise_cell(_cell(getattr(entry, name))) for name in EXPORT_FIELDS])
        yield buffer.getvalue()


def audit_json(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The entries as one JSON array, streamed an entry at a time."""
    yield "["
    for index, entry in enumerate(entries):
        yield ("," if index else "") + json.dumps(entry.as_json(), ensure_ascii=False, sort_keys=True)
    yield "]\n"
