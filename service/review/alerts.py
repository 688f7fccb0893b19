"""Alerts: every screening whose decision is not clear opens, or updates, the alert of its record id.

Re-screening a record with an unchanged result (same ``result_digest``: the flags' rule, list entry, field
and value, and whether an allow-list entry suppressed them; never timestamps) changes nothing. A changed
result updates the alert, says what changed in its history and the audit trail, and re-opens it when it was
closed. Each piece of flag evidence that names a list entry becomes a match for a reviewer to decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session, defer

from service.errors import NotFoundError, StoreError
from service.model import Decision, ScreeningResult
from service.review.allowlist import is_match
from service.review.audit import record_audit
from service.store.database import Database, store_errors
from service.store.tables import AlertEventRow, AlertMatchRow, AlertRow, AuditRow, Base, UserRow

SYSTEM_ACTOR = "system"
_ALERTS = Base.metadata.tables[AlertRow.__tablename__]
_MATCHES = Base.metadata.tables[AlertMatchRow.__tablename__]
_EVENTS = Base.metadata.tables[AlertEventRow.__tablename__]
_AUDIT = Base.metadata.tables[AuditRow.__tablename__]
#: Record ids per ``IN (...)`` clause (SQLite allows 32,766 bound parameters per statement).
_IN_CHUNK = 5000
_SEVERITY_ORDER = ("critical", "high", "medium", "low")


class AlertState(StrEnum):
    open = "open"
    in_review = "in_review"
    escalated = "escalated"
    closed = "closed"


class Outcome(StrEnum):
    confirmed_hit = "confirmed_hit"
    cleared = "cleared"


class MatchDecision(StrEnum):
    true_match = "true_match"
    false_positive = "false_positive"


class AlertChange(StrEnum):
    """What ``record_screening`` did."""

    opened = "opened"
    updated = "updated"
    reopened = "reopened"
    unchanged = "unchanged"
    not_flagged = "not_flagged"


MatchKey = tuple[str, str, str, str]


def _evidence_lines(result: ScreeningResult) -> list[tuple[str, str, str, str, bool]]:
    return sorted((flag.rule, ev.entry or "", ev.field, ev.value, ev.suppressed_by is None)
                  for flag in result.flags for ev in flag.evidence)


def _json_evidence_lines(result: dict[str, Any]) -> list[tuple[str, str, str, str, bool]]:
    """``_evidence_lines`` of a result as stored (JSON), without parsing it into the model."""
    return sorted((flag["rule"], ev.get("entry") or "", ev["field"], ev["value"], ev.get("suppressed_by") is None)
                  for flag in result.get("flags") or () for ev in flag.get("evidence") or ())


def _digest(decision: str, lines: list[tuple[str, str, str, str, bool]]) -> str:
    payload = json.dumps([decision, lines], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def result_digest(result: ScreeningResult) -> str:
    """sha256 of what was found (rule, entry, field, value, counted or suppressed) and the decision."""
    return _digest(Decision(result.decision).value, _evidence_lines(result))


def result_json_digest(result: dict[str, Any]) -> str:
    """``result_digest`` of a result as stored (JSON): the same digest, without parsing the result."""
    return _digest(str(result["decision"]), _json_evidence_lines(result))


def _severity(result: ScreeningResult) -> str:
    present = {flag.severity.value for flag in result.flags if not flag.suppressed}
    return next((level for level in _SEVERITY_ORDER if level in present), "low")


def _rules_text(result: ScreeningResult) -> str:
    rules = sorted({flag.rule for flag in result.flags if not flag.suppressed})
    return "," + ",".join(rules) + "," if rules else ","


def _match_values(result: ScreeningResult) -> dict[MatchKey, dict[str, Any]]:
    """The alert's matches (columns of AlertMatchRow): each piece of evidence that names a list entry."""
    values: dict[MatchKey, dict[str, Any]] = {}
    for flag in result.flags:
        for ev in flag.evidence:
            if ev.entry is None or not is_match(ev):
                continue
            key = (flag.rule, ev.entry, ev.field, ev.value)
            if key not in values:
                values[key] = {"rule": flag.rule, "field": ev.field[:200], "value": ev.value[:2000], "kind": ev.kind,
                               "entry": ev.entry, "list_name": ev.list, "matched": ev.matched, "score": ev.score,
                               "suppressed_by": ev.suppressed_by}
    return values


def _match_rows(result: ScreeningResult) -> dict[MatchKey, AlertMatchRow]:
    return {key: AlertMatchRow(**values) for key, values in _match_values(result).items()}


def _key(row: AlertMatchRow) -> MatchKey:
    return (row.rule, row.entry, row.field, row.value)


#: The workflow fields of an alert that the audit trail records before and after a change.
_SNAPSHOT_FIELDS = ("state", "outcome", "assignee_id", "proposed_outcome", "proposed_by", "decision", "result_digest")


def alert_snapshot(row: AlertRow) -> dict[str, Any]:
    """The workflow fields of an alert, as the audit trail records them before and after a change."""
    return {name: getattr(row, name) for name in _SNAPSHOT_FIELDS}


def add_event(session: Session, alert: AlertRow, actor: str, action: str, *, comment: str | None = None,
              detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Append to the alert's history (shown on its page)."""
    session.add(AlertEventRow(alert_id=alert.id, at=at or datetime.now(UTC), actor=actor, action=action,
                              comment=comment, detail=detail or {}))


def record_screening(database: Database, *, screening_id: str, source: str, record: dict[str, Any] | None,
                     result: ScreeningResult | dict[str, Any], actor: str = SYSTEM_ACTOR) -> AlertChange:
    """Open or update the alert for one screening (called after it is in the screening log).

    ``result`` is the result as stored (allow-list already applied); ``record`` the record as JSON.
    """
    stored = result.model_dump(mode="json") if isinstance(result, ScreeningResult) else result
    row = {"id": screening_id, "source": source, "record": record, "result": stored,
           "record_id": stored["record_id"], "decision": stored["decision"]}
    (change,) = record_screenings(database, [row], actor=actor)
    return change


def record_screenings(database: Database, rows: Sequence[dict[str, Any]],
                      actor: str = SYSTEM_ACTOR) -> list[AlertChange]:
    """``record_alerts`` in a transaction of its own, for screening log rows already committed."""
    try:
        with store_errors("recording alerts"), database.engine.begin() as connection:
            return record_alerts(connection, rows, actor=actor)
    except StoreError:
        # Two writers opening the alert of a new record id at once: the loser finds the winner's alert on a
        # second try and updates it.
        with store_errors("recording alerts"), database.engine.begin() as connection:
            return record_alerts(connection, rows, actor=actor)


def record_alerts(connection: Connection, rows: Sequence[dict[str, Any]],
                  actor: str = SYSTEM_ACTOR) -> list[AlertChange]:
    """Open or update the alerts of screening log rows (dicts keyed like ScreeningRow: ``id``, ``source``,
    ``record_id``, ``decision``, ``record``, ``result`` as stored JSON), inside the caller's transaction.

    A non-clear result opens the alert of its record id, or updates it when the result changed. A clear
    result updates an alert that is not closed (its matches went away), and otherwise does nothing.

    The screening log writer calls this in the transaction that inserts the rows, so a screening and its
    alert are committed together. Why it is shaped this way: it runs for every screening, and most of them,
    in a steady state, have no alert or find it unchanged. One query reads the digests of the alerts of all
    the rows; new alerts are inserted together in four statements; only rows whose result differs from
    their alert's go through the ORM.
    """
    if not rows:
        return []
    locking = connection.dialect.name != "sqlite"  # SQLite's single write lock already serialises writers
    known: dict[str, str] = {}
    closed: set[str] = set()
    record_ids = sorted({row["record_id"] for row in rows})
    for start in range(0, len(record_ids), _IN_CHUNK):
        query = select(_ALERTS.c.record_id, _ALERTS.c.result_digest, _ALERTS.c.state).where(
            _ALERTS.c.record_id.in_(record_ids[start:start + _IN_CHUNK]))
        for record_id, digest, state in connection.execute(query.with_for_update() if locking else query):
            known[record_id] = digest
            if state == AlertState.closed.value:
                closed.add(record_id)
    changes: list[AlertChange] = []
    opening: list[tuple[dict[str, Any], ScreeningResult, str]] = []
    session: Session | None = None
    try:
        for row in rows:
            record_id = row["record_id"]
            clear = row["decision"] == Decision.clear.value
            # A clear result opens nothing, but updates an alert still under review (it says the matches
            # went away, e.g. after a list entry was removed); a closed alert is left as it was closed.
            if clear and (record_id not in known or record_id in closed):
                changes.append(AlertChange.not_flagged)
                continue
            digest = result_json_digest(row["result"])
            if known.get(record_id) == digest:
                changes.append(AlertChange.unchanged)
                continue
            if record_id not in known:  # a new record id: opened below, with the others, in a few statements
                opening.append((row, ScreeningResult.model_validate(row["result"]), digest))
                known[record_id] = digest
                changes.append(AlertChange.opened)
                continue
            if opening:  # the alert to update may be one opened earlier in these rows
                _open_alerts(connection, opening, actor)
                opening = []
            if session is None:
                session = Session(bind=connection, join_transaction_mode="rollback_only")
            changes.append(_record(session, row["id"], row["source"], row["record"],
                                   ScreeningResult.model_validate(row["result"]), digest, actor))
            session.flush()
            known[record_id] = digest
        if opening:
            _open_alerts(connection, opening, actor)
    finally:
        if session is not None:
            session.close()
    return changes


def _open_alerts(connection: Connection, opening: Sequence[tuple[dict[str, Any], ScreeningResult, str]],
                 actor: str) -> None:
    """Insert the alerts of new record ids, their matches, history and audit lines: four statements in all,
    whatever the number of alerts (Core rather than the ORM: this runs for every newly flagged record)."""
    now = datetime.now(UTC)
    alerts = [{"record_id": result.record_id, "state": AlertState.open.value, "outcome": None,
               "decision": result.decision.value, "severity": _severity(result), "risk_score": result.risk_score,
               "rules": _rules_text(result), "result_digest": digest, "pack_version": result.pack.version,
               "pack_digest": result.pack.digest, "screening_id": row["id"], "source": row["source"],
               "record": row["record"], "result": row["result"], "assignee_id": None, "proposed_outcome": None,
               "proposed_by": None, "opened_at": now, "updated_at": now, "closed_at": None}
              for row, result, digest in opening]
    ids = connection.execute(insert(_ALERTS).returning(_ALERTS.c.id, sort_by_parameter_order=True),
                             alerts).scalars().all()
    matches: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for alert_id, alert, (row, result, _) in zip(ids, alerts, opening, strict=True):
        matches.extend({**values, "alert_id": alert_id, "decision": None, "comment": None, "decided_by": None,
                        "decided_at": None, "allow_list_id": None} for values in _match_values(result).values())
        events.append({"alert_id": alert_id, "at": now, "actor": actor, "action": "opened", "comment": None,
                       "detail": {"screening_id": row["id"], "source": row["source"], "decision": alert["decision"]}})
        audits.append({"at": now, "actor": actor, "action": "alert.open", "object_type": "alert",
                       "object_id": str(alert_id), "before": None,
                       "after": {name: alert[name] for name in _SNAPSHOT_FIELDS}})
    if matches:
        connection.execute(insert(_MATCHES), matches)
    connection.execute(insert(_EVENTS), events)
    connection.execute(insert(_AUDIT), audits)


def _record(session: Session, screening_id: str, source: str, record: dict[str, Any] | None,
            result: ScreeningResult, digest: str, actor: str) -> AlertChange:
    now = datetime.now(UTC)
    stored = result.model_dump(mode="json")
    alert = session.scalars(select(AlertRow).where(AlertRow.record_id == result.record_id)
                            .with_for_update()).one_or_none()
    if alert is None:
        alert = AlertRow(record_id=result.record_id, state=AlertState.open.value, decision=result.decision.value,
                         severity=_severity(result), risk_score=result.risk_score, rules=_rules_text(result),
                         result_digest=digest, pack_version=result.pack.version, pack_digest=result.pack.digest,
                         screening_id=screening_id, source=source, record=record, result=stored,
                         opened_at=now, updated_at=now)
        session.add(alert)
        session.flush()
        for match in _match_rows(result).values():
            match.alert_id = alert.id
            session.add(match)
        add_event(session, alert, actor, "opened", detail={"screening_id": screening_id, "source": source,
                                                              "decision": alert.decision}, at=now)
        record_audit(session, actor, "alert.open", "alert", alert.id, after=alert_snapshot(alert), at=now)
        return AlertChange.opened
    if alert.result_digest == digest:
        return AlertChange.unchanged
    before = alert_snapshot(alert)
    old_lines = {tuple(line) for line in _json_evidence_lines(alert.result)}
    new_lines = {tuple(line) for line in _evidence_lines(result)}
    changes = {
        "decision": {"before": alert.decision, "after": result.decision.value},
        "added": [list(line) for line in sorted(new_lines - old_lines)],
        "removed": [list(line) for line in sorted(old_lines - new_lines)],
        "screening_id": screening_id,
        "pack_digest": {"before": alert.pack_digest, "after": result.pack.digest},
    }
    existing = {_key(m): m for m in session.scalars(select(AlertMatchRow)
                                                    .where(AlertMatchRow.alert_id == alert.id))}
    fresh = _match_rows(result)
    for key, match in existing.items():
        if key not in fresh:
            session.delete(match)
        else:
            match.suppressed_by = fresh[key].suppressed_by
            match.score = fresh[key].score
            match.matched = fresh[key].matched
    for key, match in fresh.items():
        if key not in existing:
            match.alert_id = alert.id
            session.add(match)
    reopened = alert.state == AlertState.closed
    alert.decision = result.decision.value
    alert.severity = _severity(result)
    alert.risk_score = result.risk_score
    alert.rules = _rules_text(result)
    alert.result_digest = digest
    alert.pack_version = result.pack.version
    alert.pack_digest = result.pack.digest
    alert.screening_id = screening_id
    alert.source = source
    alert.record = record if record is not None else alert.record  # clear records may not be logged in full
    alert.result = stored
    alert.updated_at = now
    if alert.proposed_outcome is not None:
        changes["withdrawn_proposal"] = {"outcome": alert.proposed_outcome, "by": alert.proposed_by}
        alert.proposed_outcome = None
        alert.proposed_by = None
    if reopened:
        alert.state = AlertState.open.value
        alert.outcome = None
        alert.closed_at = None
    add_event(session, alert, actor, "reopened" if reopened else "updated", detail=changes, at=now)
    record_audit(session, actor, "alert.reopen" if reopened else "alert.update", "alert", alert.id,
                 before=before, after={**alert_snapshot(alert), "changes": changes}, at=now)
    return AlertChange.reopened if reopened else AlertChange.updated




# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    """What the queue shows; every field narrows it."""

    states: tuple[str, ...] = ()
    decision: str | None = None
    rule: str | None = None
    severity: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    opened_before: datetime | None = None
    opened_after: datetime | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class AlertSummary:
    """One line of the queue."""

    id: int
    record_id: str
    state: str
    outcome: str | None
    decision: str
    severity: str
    risk_score: int
    rules: list[str]
    assignee_id: int | None
    assignee: str | None
    proposed_outcome: str | None
    proposed_by: str | None
    source: str
    pack_version: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class AlertPage:
    """A page of the queue, newest first; pass ``next_before_id`` as ``before_id`` for the next page."""

    items: list[AlertSummary]
    next_before_id: int | None


@dataclass(frozen=True)
class MatchView:
    id: int
    rule: str
    field: str
    value: str
    kind: str
    entry: str
    list_name: str | None
    matched: str | None
    score: float
    suppressed_by: str | None
    decision: str | None
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    allow_list_id: int | None


@dataclass(frozen=True)
class EventView:
    id: int
    at: datetime
    actor: str
    action: str
    comment: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AlertDetail:
    """One alert with the record, the result, its matches and its history."""

    summary: AlertSummary
    screening_id: str
    pack_digest: str
    result_digest: str
    record: dict[str, Any] | None
    result: dict[str, Any]
    matches: list[MatchView] = field(default_factory=list)
    history: list[EventView] = field(default_factory=list)


def _summary(row: AlertRow, assignee: str | None) -> AlertSummary:
    return AlertSummary(row.id, row.record_id, row.state, row.outcome, row.decision, row.severity, row.risk_score,
                        [r for r in row.rules.split(",") if r], row.assignee_id, assignee, row.proposed_outcome,
                        row.proposed_by, row.source, row.pack_version, row.opened_at, row.updated_at, row.closed_at)


def _filtered(statement: Any, where: AlertFilter) -> Any:
    if where.states:
        statement = statement.where(AlertRow.state.in_(where.states))
    if where.decision is not None:
        statement = statement.where(AlertRow.decision == where.decision)
    if where.rule is not None:
        statement = statement.where(AlertRow.rules.contains(f",{where.rule},", autoescape=True))
    if where.severity is not None:
        statement = statement.where(AlertRow.severity == where.severity)
    if where.assignee_id is not None:
        statement = statement.where(AlertRow.assignee_id == where.assignee_id)
    if where.unassigned:
        statement = statement.where(AlertRow.assignee_id.is_(None))
    if where.opened_before is not None:
        statement = statement.where(AlertRow.opened_at < where.opened_before)
    if where.opened_after is not None:
        statement = statement.where(AlertRow.opened_at >= where.opened_after)
    if where.record_id is not None:
        statement = statement.where(AlertRow.record_id == where.record_id)
    return statement


def list_alerts(database: Database, where: AlertFilter = AlertFilter(), *, limit: int = 50,
                before_id: int | None = None) -> AlertPage:
    """A page of the queue (newest first, keyset on the id so every page costs the same)."""
    # The queue never shows the record or the result: leaving the two JSON documents out keeps a page small.
    statement = _filtered(select(AlertRow, UserRow.username).outerjoin(UserRow, UserRow.id == AlertRow.assignee_id)
                          .options(defer(AlertRow.record), defer(AlertRow.result)),
                          where).order_by(AlertRow.id.desc()).limit(limit + 1)
    if before_id is not None:
        statement = statement.where(AlertRow.id < before_id)
    with database.session("reading the alert queue") as session:
        rows = session.execute(statement).all()
    items = [_summary(row, username) for row, username in rows[:limit]]
    return AlertPage(items, items[-1].id if len(rows) > limit else None)


def count_alerts(database: Database, where: AlertFilter = AlertFilter()) -> dict[str, int]:
    """How many alerts match ``where``, by state."""
    statement = _filtered(select(AlertRow.state, func.count()).group_by(AlertRow.state), where)
    with database.session("counting alerts") as session:
        counts: dict[str, int] = {}
        for state, number in session.execute(statement):
            counts[state] = number
    return {state.value: counts.get(state.value, 0) for state in AlertState}


def get_alert(database: Database, alert_id: int) -> AlertDetail:
    """One alert with its matches and history (NotFoundError when it does not exist)."""
    with database.session("reading an alert") as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            raise NotFoundError(f"no alert with id {alert_id}")
        assignee = session.get(UserRow, row.assignee_id).username if row.assignee_id else None  # type: ignore[union-attr]
        matches = [MatchView(m.id, m.rule, m.field, m.value, m.kind, m.entry, m.list_name, m.matched, m.score,
                             m.suppressed_by, m.decision, m.comment, m.decided_by, m.decided_at, m.allow_list_id)
                   for m in session.scalars(select(AlertMatchRow).where(AlertMatchRow.alert_id == alert_id)
                                            .order_by(AlertMatchRow.id))]
        history = [EventView(e.id, e.at, e.actor, e.action, e.comment, e.detail)
                   for e in session.scalars(select(AlertEventRow).where(AlertEventRow.alert_id == alert_id)
                                            .order_by(AlertEventRow.id))]
        return AlertDetail(_summary(row, assignee), row.screening_id, row.pack_digest, row.result_digest, row.record,
                           row.result, matches, history)
