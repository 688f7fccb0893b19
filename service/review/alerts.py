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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from service.errors import NotFoundError, StoreError
from service.model import Decision, ScreeningResult
from service.review.allowlist import is_match
from service.review.audit import record_audit
from service.store.database import Database
from service.store.tables import AlertEventRow, AlertMatchRow, AlertRow, UserRow

SYSTEM_ACTOR = "system"
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


def result_digest(result: ScreeningResult) -> str:
    """sha256 of what was found (rule, entry, field, value, counted or suppressed) and the decision."""
    payload = json.dumps([Decision(result.decision).value, _evidence_lines(result)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _severity(result: ScreeningResult) -> str:
    present = {flag.severity.value for flag in result.flags if not flag.suppressed}
    return next((level for level in _SEVERITY_ORDER if level in present), "low")


def _rules_text(result: ScreeningResult) -> str:
    rules = sorted({flag.rule for flag in result.flags if not flag.suppressed})
    return "," + ",".join(rules) + "," if rules else ","


def _match_rows(result: ScreeningResult) -> dict[MatchKey, AlertMatchRow]:
    rows: dict[MatchKey, AlertMatchRow] = {}
    for flag in result.flags:
        for ev in flag.evidence:
            if ev.entry is None or not is_match(ev):
                continue
            key = (flag.rule, ev.entry, ev.field, ev.value)
            if key not in rows:
                rows[key] = AlertMatchRow(rule=flag.rule, field=ev.field[:200], value=ev.value[:2000], kind=ev.kind,
                                          entry=ev.entry, list_name=ev.list, matched=ev.matched, score=ev.score,
                                          suppressed_by=ev.suppressed_by)
    return rows


def _key(row: AlertMatchRow) -> MatchKey:
    return (row.rule, row.entry, row.field, row.value)


def alert_snapshot(row: AlertRow) -> dict[str, Any]:
    """The workflow fields of an alert, as the audit trail records them before and after a change."""
    return {"state": row.state, "outcome": row.outcome, "assignee_id": row.assignee_id,
            "proposed_outcome": row.proposed_outcome, "proposed_by": row.proposed_by, "decision": row.decision,
            "result_digest": row.result_digest}


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
    parsed = result if isinstance(result, ScreeningResult) else ScreeningResult.model_validate(result)
    if parsed.decision is Decision.clear:
        return AlertChange.not_flagged
    try:
        return _record(database, screening_id, source, record, parsed, actor)
    except StoreError:
        # Two screenings of a new record id at once: the loser finds the winner's alert on a second try.
        return _record(database, screening_id, source, record, parsed, actor)


def record_screenings(database: Database, items: Sequence[tuple[str, str, dict[str, Any] | None,
                                                                  ScreeningResult | dict[str, Any]]],
                      actor: str = SYSTEM_ACTOR) -> list[AlertChange]:
    """``record_screening`` for several (screening id, source, record, result) tuples."""
    return [record_screening(database, screening_id=screening_id, source=source, record=record, result=result,
                             actor=actor) for screening_id, source, record, result in items]


def _record(database: Database, screening_id: str, source: str, record: dict[str, Any] | None,
            result: ScreeningResult, actor: str) -> AlertChange:
    digest = result_digest(result)
    now = datetime.now(UTC)
    stored = result.model_dump(mode="json")
    with database.session("recording an alert") as session:
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
        old_lines = {tuple(line) for line in _lines_of(alert.result)}
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
        alert.record = record
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


def _lines_of(result: dict[str, Any]) -> list[list[Any]]:
    return [list(line) for line in _evidence_lines(ScreeningResult.model_validate(result))]


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
