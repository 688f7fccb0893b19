"""What each page shows, gathered from the review service layer (blocking: routes run these in a thread).

Each ``*_page`` function returns the template context of one page; the routes add the viewer and render.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from service.errors import NotFoundError, PermissionDenied, RecordError, ScreeningError, WorkflowError
from service.model import Decision, Flag, Severity
from service.review.alerts import AlertFilter, AlertState, count_alerts, get_alert, list_alerts
from service.review.allowlist import entry_digest, list_allow_list, rule_digest
from service.review.users import User, list_users
from service.review.web.dashboard import dashboard_charts, dashboard_figures
from service.review.web.diff import Comparison
from service.review.web.views import (
    EntryView,
    PartyView,
    People,
    age_text,
    comparison,
    describe_detail,
    entry_view,
    party_view,
    pretty_json,
)
from service.review.workflow import can_approve, can_review
from service.rulepack import Pack
from service.store import Database, Role

PAGE_SIZE = 50
#: Age filters of the queue: value -> (label, opened at least this long ago, opened less than this long ago).
AGE_FILTERS: dict[str, tuple[str, timedelta | None, timedelta | None]] = {
    "1d": ("under 1 day", None, timedelta(days=1)),
    "1-7d": ("1 to 7 days", timedelta(days=1), timedelta(days=7)),
    "7-30d": ("7 to 30 days", timedelta(days=7), timedelta(days=30)),
    "30d+": ("over 30 days", timedelta(days=30), None),
}
#: State tiles of the queue; "active" (everything not closed) is the default view.
STATE_VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "active": ("active", (AlertState.open.value, AlertState.in_review.value, AlertState.escalated.value)),
    "open": ("open", (AlertState.open.value,)),
    "in_review": ("in review", (AlertState.in_review.value,)),
    "escalated": ("escalated", (AlertState.escalated.value,)),
    "closed": ("closed", (AlertState.closed.value,)),
    "all": ("all", ()),
}
#: The status a service error gets when a form is refused.
ERROR_STATUS: tuple[tuple[type[ScreeningError], int], ...] = (
    (NotFoundError, 404), (PermissionDenied, 403), (RecordError, 422), (WorkflowError, 409))


def error_status(exc: ScreeningError) -> int:
    return next((status for kind, status in ERROR_STATUS if isinstance(exc, kind)), 500)


# --- queue ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as the browser sent them (unknown values are ignored, never an error page)."""

    state: str = "active"
    decision: str = ""
    rule: str = ""
    severity: str = ""
    age: str = ""
    assignee: str = ""
    before: int | None = None

    def cleaned(self, rules: list[str], usernames: list[str]) -> QueueQuery:
        return QueueQuery(
            state=self.state if self.state in STATE_VIEWS else "active",
            decision=self.decision if self.decision in {d.value for d in Decision} else "",
            rule=self.rule if self.rule in rules else "",
            severity=self.severity if self.severity in {s.value for s in Severity} else "",
            age=self.age if self.age in AGE_FILTERS else "",
            assignee=self.assignee if self.assignee in ("me", "none", *usernames) else "",
            before=self.before if self.before and self.before > 0 else None)

    def params(self, **changes: Any) -> str:
        values = {"state": self.state, "decision": self.decision, "rule": self.rule, "severity": self.severity,
                  "age": self.age, "assignee": self.assignee, "before": self.before or ""} | changes
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def alert_filter(query: QueueQuery, viewer: User, users: list[User], now: datetime,
                 *, with_state: bool = True) -> AlertFilter:
    by_name = {u.username: u.id for u in users}
    assignee_id = viewer.id if query.assignee == "me" else by_name.get(query.assignee)
    opened_before = opened_after = None
    if query.age:
        _, at_least, less_than = AGE_FILTERS[query.age]
        opened_before = now - at_least if at_least else None
        opened_after = now - less_than if less_than else None
    return AlertFilter(states=STATE_VIEWS[query.state][1] if with_state else (),
                       decision=query.decision or None, rule=query.rule or None, severity=query.severity or None,
                       assignee_id=assignee_id, unassigned=query.assignee == "none",
                       opened_before=opened_before, opened_after=opened_after)


def queue_page(database: Database, pack: Pack, viewer: User, raw: QueueQuery) -> dict[str, Any]:
    users = list_users(database)
    people = People(users)
    rules = sorted(rule.id for rule in pack.rules)
    query = raw.cleaned(rules, people.usernames())
    now = datetime.now(UTC)
    where = alert_filter(query, viewer, users, now)
    page = list_alerts(database, where, limit=PAGE_SIZE, before_id=query.before)
    by_state = count_alerts(database, alert_filter(query, viewer, users, now, with_state=False))
    totals = {view: sum(by_state.get(state, 0) for state in states) if states else sum(by_state.values())
              for view, (_, states) in STATE_VIEWS.items()}
    rows = [{"id": a.id, "record_id": a.record_id, "decision": a.decision, "severity": a.severity,
             "rules": a.rules, "state": a.state, "outcome": a.outcome, "assignee": a.assignee,
             "risk_score": a.risk_score, "pending_approval": a.proposed_outcome is not None,
             "opened_at": a.opened_at.strftime("%Y-%m-%d %H:%M UTC"), "age": age_text(a.opened_at, now)}
            for a in page.items]
    base = replace(query, before=None)
    return {
        "filters": query, "rows": rows, "total": totals[query.state],
        "filters_active": any((query.decision, query.rule, query.severity, query.age, query.assignee)),
        "state_tiles": [{"label": label, "count": totals[view], "current": view == query.state,
                         "url": f"/ui/queue?{base.params(state=view)}"} for view, (label, _) in STATE_VIEWS.items()],
        "options": {"decisions": [d.value for d in Decision if d is not Decision.clear], "rules": rules,
                    "severities": [s.value for s in Severity],
                    "ages": [(value, label) for value, (label, _, _) in AGE_FILTERS.items()],
                    "assignees": people.usernames()},
        "first_page": query.before is None, "first_url": f"/ui/queue?{base.params()}",
        "next_url": f"/ui/queue?{base.params(before=page.next_before_id)}" if page.next_before_id else None,
        "here": f"/ui/queue?{query.params()}",
    }


# --- alert ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchPanel:
    id: int
    rule: str
    field: str
    value: str
    kind: str
    entry_id: str
    list_name: str | None
    score: float
    suppressed_by: str | None
    decision: str | None
    comment: str | None
    decided_by: str | None
    decided_at: datetime | None
    allow_list_id: int | None
    entry: EntryView | None
    party: PartyView | None
    compared_with: str
    comparison: Comparison | None
    can_allow_list: bool


@dataclass(frozen=True)
class Capabilities:
    """Which forms the alert page offers this viewer (the service layer checks again when one is sent)."""

    decide: bool
    start: bool
    propose: bool
    approve: bool
    approve_reason: str
    assign: bool
    escalate: bool
    reopen: bool


def capabilities(user: User, state: str, proposed_by: str | None, pending: bool) -> Capabilities:
    principal = user.principal()
    reviewer = can_review(principal)
    working = state != AlertState.closed.value
    if not can_approve(principal):
        approve_reason = "Only a person with the approver role can approve or reject this clearance."
    elif proposed_by == principal.actor:
        approve_reason = "You proposed this clearance: another approver must approve it (four eyes)."
    else:
        approve_reason = ""
    return Capabilities(
        decide=reviewer and working and not pending,
        start=reviewer and state in (AlertState.open.value, AlertState.escalated.value),
        propose=reviewer and state in (AlertState.in_review.value, AlertState.escalated.value) and not pending,
        approve=pending and not approve_reason, approve_reason=approve_reason,
        assign=reviewer and working,
        escalate=reviewer and state in (AlertState.open.value, AlertState.in_review.value) and not pending,
        reopen=not working and bool(principal.roles & {Role.approver, Role.admin}))


def alert_page(database: Database, pack: Pack, viewer: User, alert_id: int, back_url: str,
               default_expiry_days: int = 365) -> dict[str, Any]:
    detail = get_alert(database, alert_id)
    people = People(list_users(database))
    summary = detail.summary
    flags = [Flag.model_validate(flag) for flag in detail.result.get("flags", [])]
    matches = []
    for match in detail.matches:
        entry = entry_view(pack, match.entry)
        compared_with, compared = comparison(match.kind, match.value, match.matched, entry)
        matches.append(MatchPanel(
            match.id, match.rule, match.field, match.value, match.kind, match.entry, match.list_name, match.score,
            match.suppressed_by, match.decision, match.comment, people.name(match.decided_by), match.decided_at,
            match.allow_list_id, entry, party_view(detail.record, match.field), compared_with, compared,
            can_allow_list=entry is not None and entry_digest(pack, match.entry) is not None
            and rule_digest(pack, match.rule) is not None))
    pending = summary.proposed_outcome is not None
    history = [{"at": e.at, "actor": people.name(e.actor), "action": e.action, "comment": e.comment,
                "detail": describe_detail(_shown_detail(e.action, e.detail, people), people)}
               for e in reversed(detail.history)]
    alert = {"id": summary.id, "record_id": summary.record_id, "decision": summary.decision,
             "severity": summary.severity, "state": summary.state, "outcome": summary.outcome,
             "risk_score": summary.risk_score, "assignee": summary.assignee, "opened_at": summary.opened_at,
             "updated_at": summary.updated_at, "closed_at": summary.closed_at, "source": summary.source,
             "pack_version": summary.pack_version, "pack_digest": detail.pack_digest}
    return {
        "alert": alert, "flags": flags, "matches": matches, "history": history,
        "decided_count": sum(1 for m in matches if m.decision),
        "proposal": {"outcome": summary.proposed_outcome, "by": people.name(summary.proposed_by),
                     "needs_approval": True} if pending else None,
        "can": capabilities(viewer, summary.state, summary.proposed_by, pending),
        "assignees": people.usernames(), "back_url": back_url,
        "pack_version": pack.info.version, "pack_changed": pack.info.digest != detail.pack_digest,
        "default_expiry_days": default_expiry_days,
        "record_json": pretty_json(detail.record) if detail.record is not None else "(the record was not stored)",
        "result_json": pretty_json(detail.result),
    }


def _shown_detail(action: str, detail: dict[str, Any], people: People) -> dict[str, Any]:
    """The parts of an event's detail worth a line in the history (the rest is in the audit trail)."""
    if action == "decide":
        return {"match": f"#{detail.get('match_id')} {detail.get('field')} = {detail.get('value')!r} vs "
                         f"{detail.get('entry')}", "decision": detail.get("decision"),
                "allow-list entry": detail.get("allow_list_id")}
    if action == "assign":
        return {"to": people.by_id(detail.get("assignee_id")) or "nobody"}
    if action in ("updated", "reopened"):
        decision = detail.get("decision") or {}
        return {"decision": f"{decision.get('before')} → {decision.get('after')}" if decision else None,
                "added": len(detail.get("added") or []), "removed": len(detail.get("removed") or [])}
    if action == "approve_clearance":
        return {"proposed by": people.name(detail.get("proposed_by"))}
    return {k: v for k, v in detail.items() if k in ("source", "decision")}


# --- allow-list ----------------------------------------------------------------------------------------------


def allow_list_page(database: Database, pack: Pack, viewer: User, show: str) -> dict[str, Any]:
    people = People(list_users(database))
    now = datetime.now(UTC)
    everything = list_allow_list(database, include_inactive=True, limit=1000)
    entries = []
    for item in everything:
        status = "revoked" if item.revoked_at else "expired" if item.expires_at <= now else "active"
        stale = ""
        if status == "active":
            if entry_digest(pack, item.entry_id) != item.entry_digest:
                stale = "the list entry changed since: its matches alert again"
            elif rule_digest(pack, item.rule_id) != item.rule_digest:
                stale = "the rule changed since: its matches alert again"
        entry = pack.entry(item.entry_id)
        entries.append({"id": item.id, "party_value": item.party_value, "party_country": item.party_country,
                        "party_identifiers": item.party_identifiers, "entry_id": item.entry_id,
                        "entry_name": getattr(entry, "name", None) or getattr(entry, "title", None),
                        "rule_id": item.rule_id, "reason": item.reason, "alert_id": item.alert_id,
                        "created_by": people.name(item.created_by), "created_at": item.created_at,
                        "expires_at": item.expires_at, "status": status, "stale": stale})
    active = [e for e in entries if e["status"] == "active"]
    return {"entries": active if show == "active" else entries,
            "tiles": [{"label": "active", "count": len(active), "current": show == "active",
                       "url": "/ui/allow-list"},
                      {"label": "all, with revoked and expired", "count": len(entries), "current": show == "all",
                       "url": "/ui/allow-list?show=all"}],
            "can_revoke": can_review(viewer.principal())}


# --- dashboard -----------------------------------------------------------------------------------------------


def dashboard_page(database: Database, days: int = 30) -> dict[str, Any]:
    figures = dashboard_figures(database, days=days)
    tiles = [{"label": label, "count": figures.open_by_state.get(state, 0), "url": f"/ui/queue?state={state}"}
             for state, label in (("open", "open"), ("in_review", "in review"), ("escalated", "escalated"))]
    return {"tiles": tiles, "charts": dashboard_charts(figures), "days": days}
