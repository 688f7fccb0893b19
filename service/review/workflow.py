"""The review workflow: who may move an alert where, enforced here so the JSON API and the web UI obey
the same rules.

States and transitions::

    open ──start──▶ in_review ──close──▶ closed (confirmed_hit | cleared)
      │                 ▲  │
      └──escalate──▶ escalated ──close──▶ closed
                        (start returns it to in_review)

A match is decided ``true_match`` or ``false_positive`` with a mandatory comment (deciding moves an open
alert to in_review). ``confirmed_hit`` needs at least one true match; ``cleared`` needs every counted match
decided false positive. **Four eyes:** clearing an alert whose decision was ``block`` is only a proposal
until a second person holding the ``approver`` role, who is not the proposer, approves it (or rejects it).
Every action writes the alert's history and the audit trail in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import NotFoundError, PermissionDenied, RecordError, ScreeningError, WorkflowError
from service.review.alerts import AlertState, MatchDecision, Outcome, add_event, alert_snapshot
from service.review.allowlist import allow_list_snapshot, new_allow_list_row
from service.review.audit import record_audit
from service.rulepack import Pack
from service.store.access import Principal, Role
from service.store.database import Database
from service.store.tables import AlertMatchRow, AlertRow, UserRow

#: Roles that may work alerts (decide, assign, escalate, propose).
REVIEW_ROLES = frozenset({Role.reviewer, Role.approver, Role.admin})
#: Roles that may sign off a clearance of a blocked alert (the second pair of eyes).
APPROVE_ROLES = frozenset({Role.approver})
_WORKING = (AlertState.open.value, AlertState.in_review.value, AlertState.escalated.value)


@dataclass(frozen=True)
class ActionResult:
    """What an action left behind: the alert's state and outcome, and whether a clearance awaits approval."""

    alert_id: int
    state: str
    outcome: str | None
    proposed_outcome: str | None
    allow_list_id: int | None = None


@dataclass(frozen=True)
class BulkOutcome:
    """One alert's part of a bulk action: ``error`` says why it was skipped."""

    alert_id: int
    ok: bool
    state: str | None = None
    error: str | None = None


def can_review(principal: Principal) -> bool:
    return bool(principal.roles & REVIEW_ROLES)


def can_approve(principal: Principal) -> bool:
    return bool(principal.roles & APPROVE_ROLES)


def _require_reviewer(principal: Principal) -> None:
    if not can_review(principal):
        raise PermissionDenied("only reviewers, approvers and admins may work alerts")


def _comment(comment: str | None, what: str) -> str:
    text = (comment or "").strip()
    if not text:
        raise RecordError([("comment", f"a comment is required to {what}")])
    if len(text) > 4000:
        raise RecordError([("comment", "at most 4000 characters")])
    return text


def _load(session: Session, alert_id: int) -> AlertRow:
    row = session.scalars(select(AlertRow).where(AlertRow.id == alert_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFoundError(f"no alert with id {alert_id}")
    return row


def _result(row: AlertRow) -> ActionResult:
    return ActionResult(row.id, row.state, row.outcome, row.proposed_outcome)


def _no_pending_proposal(row: AlertRow) -> None:
    if row.proposed_outcome is not None:
        raise WorkflowError(f"alert {row.id} has a clearance awaiting approval by {APPROVER_TEXT}; approve or "
                            "reject it first")


APPROVER_TEXT = "a second person with the approver role"


def _finish(session: Session, row: AlertRow, principal: Principal, action: str, before: dict[str, Any],
            comment: str | None = None, detail: dict[str, Any] | None = None) -> None:
    now = datetime.now(UTC)
    row.updated_at = now
    add_event(session, row, principal.actor, action, comment=comment, detail=detail, at=now)
    after = {**alert_snapshot(row), **({"comment": comment} if comment else {}), **(detail or {})}
    record_audit(session, principal.actor, f"alert.{action}", "alert", row.id, before=before, after=after, at=now)


def start_review(database: Database, alert_id: int, principal: Principal) -> ActionResult:
    """open or escalated -> in_review; the alert is assigned to the caller if it is a user and nobody has it."""
    _require_reviewer(principal)
    with database.session("starting a review") as session:
        row = _load(session, alert_id)
        if row.state not in (AlertState.open, AlertState.escalated):
            raise WorkflowError(f"alert {alert_id} is {row.state}; only open or escalated alerts can be started")
        before = alert_snapshot(row)
        row.state = AlertState.in_review.value
        if row.assignee_id is None and principal.kind == "user" and principal.id is not None:
            row.assignee_id = principal.id
        _finish(session, row, principal, "start", before)
        return _result(row)


def assign(database: Database, alert_id: int, assignee_id: int | None, principal: Principal) -> ActionResult:
    """Give the alert to a user (None: unassign). Closed alerts cannot be reassigned."""
    _require_reviewer(principal)
    with database.session("assigning an alert") as session:
        row = _load(session, alert_id)
        if row.state == AlertState.closed:
            raise WorkflowError(f"alert {alert_id} is closed")
        if assignee_id is not None:
            user = session.get(UserRow, assignee_id)
            if user is None or not user.active:
                raise RecordError([("assignee", f"no active user with id {assignee_id}")])
        before = alert_snapshot(row)
        row.assignee_id = assignee_id
        _finish(session, row, principal, "assign", before, detail={"assignee_id": assignee_id})
        return _result(row)


def escalate(database: Database, alert_id: int, comment: str, principal: Principal) -> ActionResult:
    """open or in_review -> escalated, with the reason."""
    _require_reviewer(principal)
    text = _comment(comment, "escalate")
    with database.session("escalating an alert") as session:
        row = _load(session, alert_id)
        if row.state not in (AlertState.open, AlertState.in_review):
            raise WorkflowError(f"alert {alert_id} is {row.state}; only open or in-review alerts can be escalated")
        _no_pending_proposal(row)
        before = alert_snapshot(row)
        row.state = AlertState.escalated.value
        _finish(session, row, principal, "escalate", before, comment=text)
        return _result(row)


def decide_match(database: Database, alert_id: int, match_id: int, decision: MatchDecision | str, comment: str,
                 principal: Principal, *, allow_list: bool = False, pack: Pack | None = None,
                 allow_list_days: int = 365) -> ActionResult:
    """Decide one match with a mandatory comment; an open alert moves to in_review.

    With ``allow_list`` (false positives only) an allow-list entry is added from the match, with the digests
    of the list entry and rule as ``pack`` holds them now.
    """
    _require_reviewer(principal)
    chosen = MatchDecision(decision)
    text = _comment(comment, "decide a match")
    if allow_list and chosen is not MatchDecision.false_positive:
        raise RecordError([("allow_list", "only a false positive can be allow-listed")])
    if allow_list and pack is None:
        raise RecordError([("allow_list", "the current pack is needed to allow-list a match")])
    with database.session("deciding a match") as session:
        row = _load(session, alert_id)
        if row.state not in _WORKING:
            raise WorkflowError(f"alert {alert_id} is closed; its matches can no longer be decided")
        _no_pending_proposal(row)
        match = session.get(AlertMatchRow, match_id)
        if match is None or match.alert_id != alert_id:
            raise NotFoundError(f"alert {alert_id} has no match {match_id}")
        before = alert_snapshot(row)
        match_before = {"decision": match.decision, "comment": match.comment}
        now = datetime.now(UTC)
        match.decision = chosen.value
        match.comment = text
        match.decided_by = principal.actor
        match.decided_at = now
        allow_list_id = None
        if allow_list and pack is not None:
            entry = new_allow_list_row(pack, rule_id=match.rule, evidence_value=match.value, field=match.field,
                                       entry_id=match.entry, record=row.record, reason=text, actor=principal.actor,
                                       days=allow_list_days, alert_id=row.id, now=now)
            session.add(entry)
            session.flush()
            allow_list_id = match.allow_list_id = entry.id
            record_audit(session, principal.actor, "allow_list.add", "allow_list", entry.id,
                         after=allow_list_snapshot(entry), at=now)
        if row.state == AlertState.open:
            row.state = AlertState.in_review.value
        detail = {"match_id": match.id, "rule": match.rule, "entry": match.entry, "field": match.field,
                  "value": match.value, "decision": chosen.value, "before": match_before,
                  "allow_list_id": allow_list_id}
        _finish(session, row, principal, "decide", before, comment=text, detail=detail)
        return ActionResult(row.id, row.state, row.outcome, row.proposed_outcome, allow_list_id)


def _check_decisions(session: Session, row: AlertRow, outcome: Outcome) -> None:
    matches = list(session.scalars(select(AlertMatchRow).where(AlertMatchRow.alert_id == row.id)))
    counted = [m for m in matches if m.suppressed_by is None]
    undecided = [m.id for m in counted if m.decision is None]
    if outcome is Outcome.confirmed_hit:
        if matches and not any(m.decision == MatchDecision.true_match for m in matches):
            raise WorkflowError("a confirmed hit needs at least one match decided true_match")
        return
    if undecided:
        raise WorkflowError(f"decide every match before clearing (undecided: {', '.join(map(str, undecided))})")
    if any(m.decision == MatchDecision.true_match for m in counted):
        raise WorkflowError("an alert with a true match cannot be cleared; close it as confirmed_hit")


def _close(row: AlertRow, outcome: Outcome) -> None:
    row.state = AlertState.closed.value
    row.outcome = outcome.value
    row.closed_at = datetime.now(UTC)
    row.proposed_outcome = None
    row.proposed_by = None


def close(database: Database, alert_id: int, outcome: Outcome | str, comment: str,
          principal: Principal) -> ActionResult:
    """Close an in-review or escalated alert as ``confirmed_hit`` or ``cleared``.

    Clearing an alert whose decision was ``block`` only records a proposal (four eyes): the alert stays where
    it is until ``approve_clearance`` by another person with the approver role.
    """
    _require_reviewer(principal)
    chosen = Outcome(outcome)
    text = _comment(comment, "close an alert")
    with database.session("closing an alert") as session:
        row = _load(session, alert_id)
        if row.state not in (AlertState.in_review, AlertState.escalated):
            raise WorkflowError(f"alert {alert_id} is {row.state}; start the review before closing it")
        _no_pending_proposal(row)
        _check_decisions(session, row, chosen)
        before = alert_snapshot(row)
        if chosen is Outcome.cleared and row.decision == "block":
            row.proposed_outcome = chosen.value
            row.proposed_by = principal.actor
            _finish(session, row, principal, "propose_clearance", before, comment=text)
        else:
            _close(row, chosen)
            _finish(session, row, principal, "close", before, comment=text)
        return _result(row)


def _pending(row: AlertRow, principal: Principal) -> None:
    if row.proposed_outcome is None:
        raise WorkflowError(f"alert {row.id} has no clearance awaiting approval")
    if not can_approve(principal):
        raise PermissionDenied(f"clearing a blocked alert needs {APPROVER_TEXT}")
    if row.proposed_by == principal.actor:
        raise PermissionDenied(f"four eyes: the clearance was proposed by you; it needs {APPROVER_TEXT}")


def approve_clearance(database: Database, alert_id: int, comment: str, principal: Principal) -> ActionResult:
    """The second pair of eyes: an approver other than the proposer closes the alert as cleared."""
    text = _comment(comment, "approve a clearance")
    with database.session("approving a clearance") as session:
        row = _load(session, alert_id)
        _pending(row, principal)
        before = alert_snapshot(row)
        proposer = row.proposed_by
        _close(row, Outcome.cleared)
        _finish(session, row, principal, "approve_clearance", before, comment=text, detail={"proposed_by": proposer})
        return _result(row)


def reject_clearance(database: Database, alert_id: int, comment: str, principal: Principal) -> ActionResult:
    """An approver turns the proposal down; the alert goes back to in_review."""
    text = _comment(comment, "reject a clearance")
    with database.session("rejecting a clearance") as session:
        row = _load(session, alert_id)
        _pending(row, principal)
        before = alert_snapshot(row)
        row.proposed_outcome = None
        row.proposed_by = None
        row.state = AlertState.in_review.value
        _finish(session, row, principal, "reject_clearance", before, comment=text)
        return _result(row)


def reopen(database: Database, alert_id: int, comment: str, principal: Principal) -> ActionResult:
    """closed -> open (approvers and admins), e.g. when a decision turns out wrong."""
    if not principal.roles & {Role.approver, Role.admin}:
        raise PermissionDenied("only approvers and admins may reopen a closed alert")
    text = _comment(comment, "reopen an alert")
    with database.session("reopening an alert") as session:
        row = _load(session, alert_id)
        if row.state != AlertState.closed:
            raise WorkflowError(f"alert {alert_id} is {row.state}, not closed")
        before = alert_snapshot(row)
        row.state = AlertState.open.value
        row.outcome = None
        row.closed_at = None
        _finish(session, row, principal, "reopen", before, comment=text)
        return _result(row)


#: Actions the queue can apply to many alerts at once.
BULK_ACTIONS = ("assign", "start", "escalate", "close")


def bulk_action(database: Database, alert_ids: Sequence[int], action: str, principal: Principal, *,
                assignee_id: int | None = None, outcome: Outcome | str | None = None,
                comment: str | None = None) -> list[BulkOutcome]:
    """Apply one action to each alert in its own transaction; an alert the action does not suit is reported,
    not fatal. Four eyes applies as for single alerts (``close`` as cleared on a blocked alert proposes)."""
    _require_reviewer(principal)
    if action not in BULK_ACTIONS:
        raise RecordError([("action", f"one of {', '.join(BULK_ACTIONS)}")])
    if action == "close" and outcome is None:
        raise RecordError([("outcome", "confirmed_hit or cleared")])
    if action in ("escalate", "close"):
        _comment(comment, action)
    outcomes: list[BulkOutcome] = []
    for alert_id in dict.fromkeys(alert_ids):
        try:
            if action == "assign":
                done = assign(database, alert_id, assignee_id, principal)
            elif action == "start":
                done = start_review(database, alert_id, principal)
            elif action == "escalate":
                done = escalate(database, alert_id, comment or "", principal)
            else:
                done = close(database, alert_id, outcome or "", comment or "", principal)
        except (WorkflowError, NotFoundError, PermissionDenied, RecordError) as exc:
            outcomes.append(BulkOutcome(alert_id, False, error=str(exc)))
        except ScreeningError:
            raise
        else:
            outcomes.append(BulkOutcome(alert_id, True, state=done.state))
    return outcomes
