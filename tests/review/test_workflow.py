"""Every transition of the workflow, mandatory comments, four eyes on clearing blocked alerts, bulk actions;
each action leaves history and audit entries."""

from __future__ import annotations

import pytest

from service.engine import Screener
from service.errors import PermissionDenied, RecordError, WorkflowError
from service.model import Decision
from service.review import (
    MatchDecision,
    Outcome,
    User,
    approve_clearance,
    assign,
    bulk_action,
    close,
    decide_match,
    escalate,
    get_alert,
    list_audit,
    reject_clearance,
    reopen,
    start_review,
)
from service.store import Database, Principal
from tests.review.conftest import listed_counterparty, open_alert, screen

People = dict[str, User]


def _p(people: People, name: str) -> Principal:
    return people[name].principal()


def _match_id(database: Database, alert_id: int) -> int:
    return get_alert(database, alert_id).matches[0].id


def test_start_moves_open_to_in_review_and_assigns_the_caller(database: Database, screener: Screener,
                                                               people: People) -> None:
    alert_id = open_alert(database, screener)
    result = start_review(database, alert_id, _p(people, "rita"))
    assert result.state == "in_review"
    assert get_alert(database, alert_id).summary.assignee == "rita"
    with pytest.raises(WorkflowError):
        start_review(database, alert_id, _p(people, "rita"))


def test_assign_and_unassign(database: Database, screener: Screener, people: People) -> None:
    alert_id = open_alert(database, screener)
    assign(database, alert_id, people["rob"].id, _p(people, "rita"))
    assert get_alert(database, alert_id).summary.assignee == "rob"
    assign(database, alert_id, None, _p(people, "rita"))
    assert get_alert(database, alert_id).summary.assignee is None
    with pytest.raises(RecordError):
        assign(database, alert_id, 999_999, _p(people, "rita"))


def test_escalate_and_return_to_review(database: Database, screener: Screener, people: People) -> None:
    alert_id = open_alert(database, screener)
    with pytest.raises(RecordError):
        escalate(database, alert_id, "  ", _p(people, "rita"))
    assert escalate(database, alert_id, "needs legal", _p(people, "rita")).state == "escalated"
    with pytest.raises(WorkflowError):
        escalate(database, alert_id, "again", _p(people, "rita"))
    assert start_review(database, alert_id, _p(people, "anna")).state == "in_review"


def test_decision_needs_a_comment_and_moves_open_to_in_review(database: Database, screener: Screener,
                                                              people: People) -> None:
    alert_id = open_alert(database, screener)
    with pytest.raises(RecordError):
        decide_match(database, alert_id, _match_id(database, alert_id), "true_match", "", _p(people, "rita"))
    result = decide_match(database, alert_id, _match_id(database, alert_id), "true_match", "same INN",
                          _p(people, "rita"))
    assert result.state == "in_review"
    match = get_alert(database, alert_id).matches[0]
    assert (match.decision, match.comment, match.decided_by) == ("true_match", "same INN",
                                                                 f"user:{people['rita'].id}")


def test_confirmed_hit_closes_at_once(database: Database, screener: Screener, people: People) -> None:
    alert_id = open_alert(database, screener)
    rita = _p(people, "rita")
    with pytest.raises(WorkflowError):
        close(database, alert_id, Outcome.confirmed_hit, "hit", rita)  # still open
    start_review(database, alert_id, rita)
    with pytest.raises(WorkflowError):
        close(database, alert_id, Outcome.confirmed_hit, "hit", rita)  # no true match yet
    decide_match(database, alert_id, _match_id(database, alert_id), MatchDecision.true_match, "same", rita)
    result = close(database, alert_id, Outcome.confirmed_hit, "listed consignee", rita)
    assert (result.state, result.outcome) == ("closed", "confirmed_hit")
    with pytest.raises(WorkflowError):
        decide_match(database, alert_id, _match_id(database, alert_id), "false_positive", "late", rita)


def test_clearing_needs_every_match_decided_false_positive(database: Database, screener: Screener,
                                                           people: People) -> None:
    alert_id = open_alert(database, screener)
    rita = _p(people, "rita")
    start_review(database, alert_id, rita)
    with pytest.raises(WorkflowError, match="undecided"):
        close(database, alert_id, Outcome.cleared, "not them", rita)
    decide_match(database, alert_id, _match_id(database, alert_id), "true_match", "same", rita)
    with pytest.raises(WorkflowError, match="true match"):
        close(database, alert_id, Outcome.cleared, "not them", rita)


def _propose(database: Database, screener: Screener, people: People, proposer: str = "rita") -> int:
    alert_id = open_alert(database, screener)
    who = _p(people, proposer)
    start_review(database, alert_id, who)
    decide_match(database, alert_id, _match_id(database, alert_id), "false_positive", "different company, "
                 "other INN", who)
    result = close(database, alert_id, Outcome.cleared, "not the listed party", who)
    assert (result.state, result.proposed_outcome) == ("in_review", "cleared")
    return alert_id


def test_four_eyes_clearing_a_blocked_alert_is_only_a_proposal(database: Database, screener: Screener,
                                                               people: People) -> None:
    alert_id = _propose(database, screener, people)
    detail = get_alert(database, alert_id).summary
    assert (detail.state, detail.outcome, detail.proposed_by) == ("in_review", None, f"user:{people['rita'].id}")
    with pytest.raises(WorkflowError):  # nothing else moves while the proposal waits
        decide_match(database, alert_id, _match_id(database, alert_id), "true_match", "x", _p(people, "rob"))
    with pytest.raises(PermissionDenied):  # a reviewer is not an approver
        approve_clearance(database, alert_id, "ok", _p(people, "rob"))
    with pytest.raises(PermissionDenied):  # admin alone is not the approver role
        approve_clearance(database, alert_id, "ok", _p(people, "adam"))
    result = approve_clearance(database, alert_id, "checked the INN myself", _p(people, "anna"))
    assert (result.state, result.outcome) == ("closed", "cleared")
    actions = [a.action for a in list_audit(database, object_type="alert")]
    assert actions[-2:] == ["alert.propose_clearance", "alert.approve_clearance"]


def test_four_eyes_the_proposer_cannot_approve_their_own_clearance(database: Database, screener: Screener,
                                                                   people: People) -> None:
    alert_id = _propose(database, screener, people, proposer="alex")  # alex holds reviewer and approver
    with pytest.raises(PermissionDenied, match="four eyes"):
        approve_clearance(database, alert_id, "mine", _p(people, "alex"))
    assert approve_clearance(database, alert_id, "agreed", _p(people, "anna")).state == "closed"


def test_four_eyes_rejection_returns_to_review(database: Database, screener: Screener, people: People) -> None:
    alert_id = _propose(database, screener, people)
    result = reject_clearance(database, alert_id, "look at the address again", _p(people, "anna"))
    assert (result.state, result.proposed_outcome) == ("in_review", None)
    with pytest.raises(WorkflowError):
        approve_clearance(database, alert_id, "too late", _p(people, "anna"))


def test_clearing_a_review_alert_needs_no_second_person(database: Database, screener: Screener,
                                                        people: People) -> None:
    from service.review import record_screening
    from service.store import new_screening_id

    data = listed_counterparty("cp-review")
    blocked = screen(screener, data)
    as_review = blocked.model_copy(update={"decision": Decision.review})
    record_screening(database, screening_id=new_screening_id(), source="batch", record=data, result=as_review)
    from service.review import AlertFilter, list_alerts

    (summary,) = list_alerts(database, AlertFilter(record_id="cp-review")).items
    rita = _p(people, "rita")
    start_review(database, summary.id, rita)
    decide_match(database, summary.id, _match_id(database, summary.id), "false_positive", "other firm", rita)
    assert close(database, summary.id, "cleared", "not them", rita).state == "closed"


def test_reopen_is_for_approvers_and_admins(database: Database, screener: Screener, people: People) -> None:
    alert_id = _propose(database, screener, people)
    approve_clearance(database, alert_id, "ok", _p(people, "anna"))
    with pytest.raises(PermissionDenied):
        reopen(database, alert_id, "wrong", _p(people, "rita"))
    assert reopen(database, alert_id, "new facts", _p(people, "adam")).state == "open"
    with pytest.raises(WorkflowError):
        reopen(database, alert_id, "again", _p(people, "adam"))


def test_screeners_cannot_work_alerts(database: Database, screener: Screener) -> None:
    from service.store import Role

    alert_id = open_alert(database, screener)
    machine = Principal.for_api_key(1, "orders", Role.screener)
    with pytest.raises(PermissionDenied):
        start_review(database, alert_id, machine)


def test_bulk_actions_report_each_alert(database: Database, screener: Screener, people: People) -> None:
    ids = [open_alert(database, screener, listed_counterparty(f"cp-{n}")) for n in range(3)]
    rita = _p(people, "rita")
    start_review(database, ids[0], rita)
    outcomes = bulk_action(database, [*ids, 999_999], "start", rita)
    assert [o.ok for o in outcomes] == [False, True, True, False]
    assigned = bulk_action(database, ids, "assign", rita, assignee_id=people["rob"].id)
    assert all(o.ok for o in assigned)
    assert {get_alert(database, i).summary.assignee for i in ids} == {"rob"}
    with pytest.raises(RecordError):
        bulk_action(database, ids, "escalate", rita)
    assert all(o.state == "escalated" for o in bulk_action(database, ids, "escalate", rita, comment="legal"))
